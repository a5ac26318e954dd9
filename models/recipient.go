package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"audiencebridge/identity"
)

// Recipient is a person Campaign can target.
type Recipient struct {
	ID        int64
	Email     string
	FirstName string
	LastName  string
	// CRMID is the declared identifier, nil when unset (unique when set).
	CRMID     *string `gorm:"column:crm_id"`
	CreatedAt time.Time
	UpdatedAt time.Time
	// VisitorIDs are loaded with RecipientByID only.
	VisitorIDs []VisitorID `gorm:"-"`
}

// TableName tells GORM where recipients live.
func (Recipient) TableName() string { return "recipients" }

// CRM returns the CRM ID or "".
func (r *Recipient) CRM() string {
	if r.CRMID == nil {
		return ""
	}
	return *r.CRMID
}

// FullName is "First Last", trimmed.
func (r *Recipient) FullName() string { return strings.TrimSpace(r.FirstName + " " + r.LastName) }

// VisitorID is an Experience Cloud visitor ID tracked for a recipient.
type VisitorID struct {
	RecipientID int64
	VisitorID   string
	FirstSeenAt time.Time
}

// TableName tells GORM where visitor IDs live.
func (VisitorID) TableName() string { return "recipient_visitor_ids" }

// MaxNamePartLength bounds first and last names.
const MaxNamePartLength = 128

// RecipientInput is a recipient as typed in a form or sent to the API.
type RecipientInput struct {
	Email      string
	FirstName  string
	LastName   string
	CRMID      string
	VisitorIDs []string
}

func (in *RecipientInput) normalize() {
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.FirstName, in.LastName, in.CRMID = strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName), strings.TrimSpace(in.CRMID)
	var ids []string
	for _, v := range in.VisitorIDs {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	in.VisitorIDs = ids
}

func (in *RecipientInput) validate() error {
	var v ValidationErrors
	if in.Email == "" {
		v.Add("email", "enter an e-mail address")
	} else if err := identity.ValidateEmail(in.Email); err != nil {
		v.Add("email", "%s", err.Error())
	}
	if utf8.RuneCountInString(in.FirstName) > MaxNamePartLength {
		v.Add("firstName", "use at most %d characters", MaxNamePartLength)
	}
	if utf8.RuneCountInString(in.LastName) > MaxNamePartLength {
		v.Add("lastName", "use at most %d characters", MaxNamePartLength)
	}
	if in.CRMID != "" {
		if err := identity.ValidateDeclaredID(in.CRMID); err != nil {
			v.Add("crmId", "%s", err.Error())
		}
	}
	for i, id := range in.VisitorIDs {
		if err := identity.ValidateECID(id); err != nil {
			v.Add("visitorIds", "visitor ID %d: %s", i+1, err.Error())
			break
		}
	}
	return v.Err()
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// checkRecipientUnique refuses an e-mail or CRM ID that another recipient has.
func (s *Store) checkRecipientUnique(ctx context.Context, exceptID int64, in RecipientInput) error {
	var other Recipient
	err := s.q(ctx).Where("email = ? AND id <> ?", in.Email, exceptID).First(&other).Error
	if err == nil {
		return &ConflictError{Field: "email", Message: fmt.Sprintf("recipient #%d already has the e-mail %s", other.ID, in.Email)}
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("check e-mail: %w", err)
	}
	if in.CRMID != "" {
		err = s.q(ctx).Where("crm_id = ? AND id <> ?", in.CRMID, exceptID).First(&other).Error
		if err == nil {
			return &ConflictError{Field: "crmId", Message: fmt.Sprintf("recipient %s already has the CRM ID %s", other.Email, in.CRMID)}
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("check CRM ID: %w", err)
		}
	}
	return nil
}

func (s *Store) addVisitorIDs(ctx context.Context, recipientID int64, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	now := s.Now()
	rows := make([]VisitorID, len(ids))
	for i, id := range ids {
		rows[i] = VisitorID{RecipientID: recipientID, VisitorID: id, FirstSeenAt: now}
	}
	if err := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("add visitor IDs: %w", err)
	}
	return nil
}

// CreateRecipient validates and stores a recipient with its visitor IDs.
func (s *Store) CreateRecipient(ctx context.Context, in RecipientInput) (*Recipient, error) {
	in.normalize()
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := s.Now()
	r := &Recipient{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, CRMID: optional(in.CRMID), CreatedAt: now, UpdatedAt: now}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.checkRecipientUnique(ctx, 0, in); err != nil {
			return err
		}
		if err := tx.q(ctx).Create(r).Error; err != nil {
			return fmt.Errorf("insert recipient: %w", err)
		}
		return tx.addVisitorIDs(ctx, r.ID, in.VisitorIDs)
	})
	if err != nil {
		return nil, err
	}
	return s.RecipientByID(ctx, r.ID)
}

// UpdateRecipient replaces a recipient's fields and visitor IDs with the
// input's: IDs no longer listed are removed, new ones are first seen now.
func (s *Store) UpdateRecipient(ctx context.Context, id int64, in RecipientInput) (*Recipient, error) {
	in.normalize()
	if err := in.validate(); err != nil {
		return nil, err
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.RecipientByID(ctx, id); err != nil {
			return err
		}
		if err := tx.checkRecipientUnique(ctx, id, in); err != nil {
			return err
		}
		if err := tx.q(ctx).Model(&Recipient{}).Where("id = ?", id).Updates(map[string]any{"email": in.Email, "first_name": in.FirstName,
			"last_name": in.LastName, "crm_id": optional(in.CRMID), "updated_at": tx.Now()}).Error; err != nil {
			return fmt.Errorf("update recipient: %w", err)
		}
		del := tx.q(ctx).Where("recipient_id = ?", id)
		if len(in.VisitorIDs) > 0 {
			del = del.Where("visitor_id NOT IN ?", in.VisitorIDs)
		}
		if err := del.Delete(&VisitorID{}).Error; err != nil {
			return fmt.Errorf("remove visitor IDs: %w", err)
		}
		return tx.addVisitorIDs(ctx, id, in.VisitorIDs)
	})
	if err != nil {
		return nil, err
	}
	return s.RecipientByID(ctx, id)
}

// RecipientByID loads a recipient with its visitor IDs, oldest first.
func (s *Store) RecipientByID(ctx context.Context, id int64) (*Recipient, error) {
	var r Recipient
	if err := s.q(ctx).First(&r, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("recipient #%d", id))
	}
	if err := s.q(ctx).Where("recipient_id = ?", id).Order("first_seen_at").Order("visitor_id").Find(&r.VisitorIDs).Error; err != nil {
		return nil, fmt.Errorf("load visitor IDs: %w", err)
	}
	return &r, nil
}

// RecipientsByEmail finds recipients by e-mail (case-insensitive) and lists
// the addresses that match nobody.
func (s *Store) RecipientsByEmail(ctx context.Context, emails []string) ([]*Recipient, []string, error) {
	var norm []string
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && !slices.Contains(norm, e) {
			norm = append(norm, e)
		}
	}
	var found []*Recipient
	for chunk := range slices.Chunk(norm, 500) {
		var part []*Recipient
		if err := s.q(ctx).Where("email IN ?", chunk).Find(&part).Error; err != nil {
			return nil, nil, fmt.Errorf("find recipients: %w", err)
		}
		found = append(found, part...)
	}
	var missing []string
	for _, e := range norm {
		if !slices.ContainsFunc(found, func(r *Recipient) bool { return r.Email == e }) {
			missing = append(missing, e)
		}
	}
	return found, missing, nil
}

// RecipientQuery searches, sorts and pages recipients.
type RecipientQuery struct {
	Search     string
	Sort       string
	Descending bool
	PageRequest
}

// RecipientSorts are the columns the recipients list sorts by.
var RecipientSorts = map[string]string{
	"email": "email", "firstName": "first_name", "lastName": "last_name", "crmId": "crm_id", "created": "created_at", "modified": "updated_at",
}

// searchRecipients keeps the recipients whose e-mail, name or CRM ID
// contains the term, ignoring case, or one of whose visitor IDs starts
// with it. Substrings cannot use an index: every row is read, so the
// comparisons stay in the database. On SQLite LOWER is a Go function (a
// call out of C per row), so it is used only where the term needs Unicode
// folding: e-mail addresses are stored lower-cased, and SQLite's LIKE
// already ignores the case of ASCII letters.
func (s *Store) searchRecipients(db *gorm.DB, term string) *gorm.DB {
	term = strings.TrimSpace(term)
	if term == "" {
		return db
	}
	p := "%" + likeEscape(strings.ToLower(term)) + "%"
	var conds []string
	args := []any{p}
	conds = append(conds, `email LIKE ? ESCAPE '\'`)
	fold := "LOWER(%s) LIKE ? ESCAPE '\\'"
	if s.dialect == SQLite && isASCII(term) {
		fold = "%s LIKE ? ESCAPE '\\'"
	}
	for _, col := range []string{"first_name", "last_name", "crm_id"} {
		conds = append(conds, fmt.Sprintf(fold, col))
		args = append(args, p)
	}
	// A visitor ID is 38 digits, found by its prefix: a range of its index.
	if isDigits(term) {
		prefix := s.q(db.Statement.Context).Model(&VisitorID{}).Select("recipient_id")
		if s.dialect == SQLite {
			prefix = prefix.Where("visitor_id >= ? AND visitor_id < ?", term, term+":") // ':' follows '9'
		} else {
			prefix = prefix.Where("visitor_id LIKE ?", term+"%") // digits: nothing to escape
		}
		conds = append(conds, "id IN (?)")
		args = append(args, prefix)
	}
	return db.Where(strings.Join(conds, " OR "), args...)
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ListRecipients returns one page of recipients.
func (s *Store) ListRecipients(ctx context.Context, q RecipientQuery) (Page[*Recipient], error) {
	q.PageRequest = q.PageRequest.Normalize()
	if strings.TrimSpace(q.Search) != "" {
		if _, small, err := s.estimateRows(ctx, "recipients"); err != nil {
			return Page[*Recipient]{}, err
		} else if !small {
			release, err := s.searchSlot(ctx)
			if err != nil {
				return Page[*Recipient]{}, err
			}
			defer release()
		}
	}
	db := s.searchRecipients(s.q(ctx).Model(&Recipient{}), q.Search)
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*Recipient]{}, fmt.Errorf("count recipients: %w", err)
	}
	col, ok := RecipientSorts[q.Sort]
	if !ok {
		col = "email"
	}
	dir := " ASC"
	if q.Descending {
		dir = " DESC"
	}
	var out []*Recipient
	if err := db.Order(col + dir).Order("id" + dir).Limit(q.PageSize).Offset(q.Offset()).Find(&out).Error; err != nil {
		return Page[*Recipient]{}, fmt.Errorf("list recipients: %w", err)
	}
	return NewPage(q.PageRequest, total, out), nil
}

// recipientColumns are the recipients' sort keys as keyset columns.
func recipientColumn(sort string, desc bool, table string) (keysetColumn, func(*Recipient) (any, int64)) {
	col, ok := RecipientSorts[sort]
	if !ok {
		col = "email"
	}
	key := func(r *Recipient) (any, int64) {
		switch col {
		case "first_name":
			return r.FirstName, r.ID
		case "last_name":
			return r.LastName, r.ID
		case "crm_id":
			return r.CRMID, r.ID
		case "created_at":
			return r.CreatedAt, r.ID
		case "updated_at":
			return r.UpdatedAt, r.ID
		}
		return r.Email, r.ID
	}
	return keysetColumn{name: table + col, id: table + "id", nullable: col == "crm_id", desc: desc}, key
}

// BrowseRecipients returns one keyset page of recipients, searched and
// sorted, for the console: exact totals for small tables, an estimate for
// a large one, no total for a search of a large one unless the search fits
// in its first page.
func (s *Store) BrowseRecipients(ctx context.Context, q RecipientQuery, k Keyset) (KeysetPage[*Recipient], error) {
	k = k.normalize()
	total, exact, err := s.estimateRows(ctx, "recipients")
	if err != nil {
		return KeysetPage[*Recipient]{}, err
	}
	search := strings.TrimSpace(q.Search) != ""
	if search && !exact {
		release, err := s.searchSlot(ctx)
		if err != nil {
			return KeysetPage[*Recipient]{}, err
		}
		defer release()
	}
	if search {
		total, exact, err = s.countSearch(ctx, s.searchRecipients(s.q(ctx).Model(&Recipient{}), q.Search), exact)
		if err != nil {
			return KeysetPage[*Recipient]{}, fmt.Errorf("count recipients: %w", err)
		}
	}
	col, key := recipientColumn(q.Sort, q.Descending, "")
	return browse(s, s.searchRecipients(s.q(ctx).Model(&Recipient{}), q.Search), col, k, total, exact, key)
}

// searchSlot waits for one of the few slots of substring searches of a
// large table, which read every row: with one per two cores, the other
// pages keep a core however many operators search at once, and searches
// queue instead of starving everyone. It returns the slot's release.
func (s *Store) searchSlot(ctx context.Context) (func(), error) {
	if s.searches == nil {
		return func() {}, nil
	}
	select {
	case s.searches <- struct{}{}:
		return func() { <-s.searches }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to search: %w", ctx.Err())
	}
}

// countSearch counts a search's rows when the table is small (exact is
// the table's count being exact); else it returns -1, unknown.
func (s *Store) countSearch(_ context.Context, db *gorm.DB, small bool) (int64, bool, error) {
	if !small {
		return -1, false, nil
	}
	var n int64
	err := db.Select("COUNT(*)").Scan(&n).Error
	return n, true, err
}

// browse runs a keyset query and makes its page. A Last page of an exact
// total holds the rows after the last full page, so pages stay aligned.
func browse[T any](s *Store, db *gorm.DB, col keysetColumn, k Keyset, total int64, exact bool, key func(T) (any, int64)) (KeysetPage[T], error) {
	size := k.Limit
	if k.Last && k.After == "" && k.Before == "" && exact && total > 0 {
		if rest := int(total % int64(size)); rest > 0 {
			k.Limit = rest
		}
	}
	db, backward, from, err := s.keysetQuery(db, col, k)
	if err != nil {
		return KeysetPage[T]{}, err
	}
	var rows []T
	if err := db.Find(&rows).Error; err != nil {
		return KeysetPage[T]{}, fmt.Errorf("page: %w", err)
	}
	p := keysetPage(rows, k, backward, from, total, exact, key)
	if !p.TotalKnown && p.Next == "" && p.Prev == "" {
		// Everything found fits in one page: that is the count.
		p.Total, p.TotalKnown, p.Estimated = int64(len(p.Items)), true, false
	}
	p.Limit = size
	return p, nil
}

// VisitorIDCounts returns how many visitor IDs each recipient has.
func (s *Store) VisitorIDCounts(ctx context.Context, ids []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		RecipientID int64
		N           int
	}
	if err := s.q(ctx).Model(&VisitorID{}).Select("recipient_id, COUNT(*) AS n").Where("recipient_id IN ?", ids).Group("recipient_id").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count visitor IDs: %w", err)
	}
	for _, r := range rows {
		out[r.RecipientID] = r.N
	}
	return out, nil
}

// CountRecipients counts every recipient.
func (s *Store) CountRecipients(ctx context.Context) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&Recipient{}).Count(&n).Error
	return n, err
}

// VisitorIDsOf returns the visitor IDs of each recipient, oldest first.
func (s *Store) VisitorIDsOf(ctx context.Context, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []VisitorID
	if err := s.q(ctx).Where("recipient_id IN ?", ids).Order("first_seen_at").Order("visitor_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load visitor IDs: %w", err)
	}
	for _, v := range rows {
		out[v.RecipientID] = append(out[v.RecipientID], v.VisitorID)
	}
	return out, nil
}

// RecipientEmails returns up to limit e-mail addresses, by id.
func (s *Store) RecipientEmails(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := s.q(ctx).Model(&Recipient{}).Order("id").Limit(limit).Pluck("email", &out).Error
	return out, err
}

// RecipientCRMIDs returns up to limit CRM IDs, by recipient id.
func (s *Store) RecipientCRMIDs(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := s.q(ctx).Model(&Recipient{}).Where("crm_id IS NOT NULL").Order("id").Limit(limit).Pluck("crm_id", &out).Error
	return out, err
}
