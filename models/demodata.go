package models

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// DemoRecipients is how many recipients demo mode creates.
const DemoRecipients = 10000

// DemoVisitorID is the visitor ID (38 digits) demo mode gives the i-th
// demo visitor; the demo audience library reuses it so that demo segments
// reconcile with demo recipients.
func DemoVisitorID(i int) string { return fmt.Sprintf("%038d", 7955261652886032950+int64(i)*7919) }

// DemoCRMID is the CRM ID demo mode gives the i-th recipient that has one.
func DemoCRMID(i int) string { return fmt.Sprintf("CRM-%07d", i) }

var demoFirst = strings.Fields("Ada Ben Chloé Dan Eva Farid Greta Hugo Inès Jon Kim Léa Malik Nora Omar Paula Quinn Rosa Sami Tara Ugo Vera Wes Xia Yara Zoé")
var demoLast = strings.Fields("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier")

// SeedDemoData adds the demo data each part of the console shows, every
// part only when its tables are empty, so a database in use keeps its own.
func (s *Store) SeedDemoData(ctx context.Context) error {
	if err := s.seedDemoDataSources(ctx); err != nil {
		return err
	}
	return s.seedDemoRecipients(ctx)
}

func (s *Store) seedDemoDataSources(ctx context.Context) error {
	actor := SystemActor("demo")
	for _, in := range []DataSourceInput{
		{Label: "Recipient - CRM ID (declared)", InternalName: "crmDeclaredId", IDType: "declaredId", ReconciliationKey: "crmId",
			IntegrationCode: "AdobeCampaignID", AAMDataSourceID: "100002", Comment: "Declared IDs: the CRM customer number."},
		{Label: "Recipient - Hashed e-mail", InternalName: "hashedEmail", IDType: "declaredId", ReconciliationKey: "email",
			IntegrationCode: "HashedEmail", AAMDataSourceID: "100003", HashAlgorithm: "sha256", Comment: "Declared IDs: SHA-256 of the lower-cased e-mail address."},
	} {
		if _, err := s.DataSourceByInternalName(ctx, in.InternalName); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if _, err := s.CreateDataSource(ctx, actor, in); err != nil {
			return fmt.Errorf("create demo data source %s: %w", in.InternalName, err)
		}
	}
	return nil
}

func (s *Store) seedDemoRecipients(ctx context.Context) error {
	n, err := s.CountRecipients(ctx)
	if err != nil || n > 0 {
		return err
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	now := s.Now()
	return s.Tx(ctx, func(tx *Store) error {
		var batch []Recipient
		var visitors []VisitorID
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := tx.q(ctx).CreateInBatches(batch, 500).Error; err != nil {
				return fmt.Errorf("create demo recipients: %w", err)
			}
			for i := range visitors {
				visitors[i].RecipientID = batch[visitors[i].RecipientID].ID // index → id
			}
			if len(visitors) > 0 {
				if err := tx.q(ctx).CreateInBatches(visitors, 500).Error; err != nil {
					return fmt.Errorf("create demo visitor IDs: %w", err)
				}
			}
			batch, visitors = batch[:0], visitors[:0]
			return nil
		}
		visitor := 0
		for i := 1; i <= DemoRecipients; i++ {
			first, last := demoFirst[rng.IntN(len(demoFirst))], demoLast[rng.IntN(len(demoLast))]
			r := Recipient{Email: fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(asciiFold(first)), strings.ToLower(last), i),
				FirstName: first, LastName: last, CreatedAt: now, UpdatedAt: now}
			if rng.IntN(100) < 60 {
				crm := DemoCRMID(i)
				r.CRMID = &crm
			}
			idx := int64(len(batch))
			batch = append(batch, r)
			if rng.IntN(100) < 85 {
				for k := 0; k < 1+boolInt(rng.IntN(100) < 15); k++ {
					visitors = append(visitors, VisitorID{RecipientID: idx, VisitorID: DemoVisitorID(visitor), FirstSeenAt: now})
					visitor++
				}
			}
			if len(batch) == 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		return tx.seedDemoLists(ctx)
	})
}

func (s *Store) seedDemoLists(ctx context.Context) error {
	actor := SystemActor("demo")
	for _, d := range []struct {
		label, description string
		every              int
	}{
		{"Newsletter subscribers", "Recipients who opted in to the monthly newsletter.", 4},
		{"VIP customers", "Top customers by yearly revenue.", 33},
	} {
		l, err := s.CreateList(ctx, actor, ListInput{Label: d.label, Description: d.description})
		if err != nil {
			return err
		}
		if err := s.q(ctx).Exec(`INSERT INTO list_members (list_id, recipient_id, added_at) SELECT ?, id, ? FROM recipients WHERE id % ? = 0`,
			l.ID, s.Now(), d.every).Error; err != nil {
			return fmt.Errorf("fill demo list: %w", err)
		}
		if err := s.refreshListSize(ctx, l.ID); err != nil {
			return err
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func asciiFold(s string) string {
	return strings.NewReplacer("é", "e", "è", "e", "ë", "e").Replace(s)
}
