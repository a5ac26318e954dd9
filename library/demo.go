package library

import (
	"context"
	"errors"
	"fmt"

	"audiencebridge/identity"
	"audiencebridge/models"
)

// Demo data sources of the library: their DPIDs are the AAM Data source IDs
// of the demo AMC data sources, so shared audiences reconcile with the demo
// recipients.
const (
	DemoVisitorsDPID = 100001
	DemoCRMDPID      = 100002
	DemoEmailDPID    = 100003
)

type demoSegment struct {
	name, description, source string
	dpid                      int64
	size, matching            int
	inactive                  bool
}

var demoSegments = []demoSegment{
	{"Cart abandoners (7 days)", "Visitors who left items in their cart this week.", "Analytics", DemoVisitorsDPID, 1800, 1500, false},
	{"Returning visitors", "Came back at least three times in 30 days.", "Analytics", DemoVisitorsDPID, 7900, 6000, false},
	{"Mobile app users", "Signed in to the mobile app this quarter.", "Experience Cloud", DemoVisitorsDPID, 2400, 800, false},
	{"Holiday gift shoppers", "Browsed the gift guides.", "Audience Manager", DemoVisitorsDPID, 4200, 3000, false},
	{"High-value prospects", "Scored above 90 by the propensity model.", "Audience Manager", DemoVisitorsDPID, 12, 8, false},
	{"Lookalike: premium", "Modelled on premium buyers; mostly visitors Campaign does not know yet.", "Audience Manager", DemoVisitorsDPID, 6100, 0, false},
	{"Spring sale 2025", "Last year's campaign audience.", "Analytics", DemoVisitorsDPID, 1200, 900, true},
	{"Loyalty members", "Members of the loyalty programme, by CRM ID.", "Campaign", DemoCRMDPID, 3000, 2700, false},
	{"Churn risk", "Customers likely to leave, from the CRM.", "Audience Manager", DemoCRMDPID, 950, 700, false},
	{"Store card holders", "Holders of the store card.", "Experience Cloud", DemoCRMDPID, 5, 5, false},
	{"Newsletter engaged", "Opened a newsletter in the last 60 days (hashed e-mails).", "Campaign", DemoEmailDPID, 2000, 1600, false},
	{"Webinar attendees", "Registered for a webinar (hashed e-mails).", "Analytics", DemoEmailDPID, 640, 300, false},
}

// SeedDemo fills an empty embedded library with demo data sources and a
// dozen segments that partly overlap the demo recipients, and points the demo
// AMC data sources at them.
func SeedDemo(ctx context.Context, store *models.Store) error {
	lib := NewEmbedded(store)
	existing, err := lib.DataSources(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	for _, ds := range []DataSource{
		{ID: DemoVisitorsDPID, Name: "Experience Cloud visitors", Description: "Experience Cloud IDs (ECID) of web and app visitors.", IDType: Cookie},
		{ID: DemoCRMDPID, Name: "CRM declared IDs", Description: "Customer numbers declared by the CRM.", IntegrationCode: "AdobeCampaignID", IDType: CrossDevice},
		{ID: DemoEmailDPID, Name: "Hashed e-mails", Description: "SHA-256 of lower-cased e-mail addresses.", IntegrationCode: "HashedEmail", IDType: CrossDevice},
	} {
		if _, err := lib.CreateDataSource(ctx, ds); err != nil {
			return fmt.Errorf("create demo library data source: %w", err)
		}
	}
	if err := linkDemoDataSource(ctx, store); err != nil {
		return err
	}
	emails, err := store.RecipientEmails(ctx, models.DemoRecipients)
	if err != nil {
		return err
	}
	crmIDs, err := store.RecipientCRMIDs(ctx, models.DemoRecipients)
	if err != nil {
		return err
	}
	for i, d := range demoSegments {
		status := Active
		if d.inactive {
			status = Inactive
		}
		seg, err := lib.CreateSegment(ctx, SegmentInput{Name: d.name, Description: d.description, Source: d.source, DataSourceID: d.dpid,
			Status: status, Author: "demo", IntegrationCode: fmt.Sprintf("demo-%02d", i+1)})
		if err != nil {
			return fmt.Errorf("create demo segment %q: %w", d.name, err)
		}
		members := make([]string, 0, d.size)
		for k := 0; k < d.size; k++ {
			// Members after `matching` are identifiers no demo recipient has.
			known := k < d.matching
			offset := (i*613 + k*7) % 9000
			switch d.dpid {
			case DemoVisitorsDPID:
				if known {
					members = append(members, models.DemoVisitorID(offset))
				} else {
					members = append(members, models.DemoVisitorID(50000+i*10000+k))
				}
			case DemoCRMDPID:
				if known && len(crmIDs) > 0 {
					members = append(members, crmIDs[offset%len(crmIDs)])
				} else {
					members = append(members, fmt.Sprintf("EXT-%d-%05d", i, k))
				}
			case DemoEmailDPID:
				if known && len(emails) > 0 {
					members = append(members, identity.SHA256Hex(emails[offset%len(emails)]))
				} else {
					members = append(members, identity.SHA256Hex(fmt.Sprintf("prospect.%d.%d@example.net", i, k)))
				}
			}
		}
		if _, err := lib.ReplaceMembers(ctx, seg.SID, Slice(members)); err != nil {
			return fmt.Errorf("fill demo segment %q: %w", d.name, err)
		}
	}
	return nil
}

// linkDemoDataSource gives the built-in AMC data source the DPID of the
// demo visitor IDs, as an administrator would.
func linkDemoDataSource(ctx context.Context, store *models.Store) error {
	ds, err := store.DataSourceByInternalName(ctx, "defaultDataSource")
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ds.AAMDataSourceID != nil {
		return nil
	}
	in := models.DataSourceInput{Label: ds.Label, InternalName: ds.InternalName, IDType: string(ds.IDType), ReconciliationKey: string(ds.ReconciliationKey),
		IntegrationCode: ds.IntegrationCode, AAMDataSourceID: fmt.Sprint(DemoVisitorsDPID), HashAlgorithm: string(ds.HashAlgorithm), Comment: ds.Comment}
	_, err = store.UpdateDataSource(ctx, models.SystemActor("demo"), ds.InternalName, in)
	return err
}
