package models

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// ListType tells a regular list from one synchronised with a shared audience.
type ListType string

// The list types of SPEC.md.
const (
	RegularList        ListType = "regular"
	SharedAudienceList ListType = "sharedAudience"
)

// Label is the type as the Lists table shows it.
func (t ListType) Label() string {
	if t == SharedAudienceList {
		return "Shared audience"
	}
	return "List"
}

// List is a recipient list.
type List struct {
	ID           int64
	Label        string
	InternalName string
	Type         ListType
	Description  string
	DataSourceID *int64
	Size         int64
	CreatedBy    *int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// The audience a shared-audience list follows.
	SegmentID        *int64
	SegmentName      string
	SegmentUpdatedAt *time.Time
	// SyncEveryMinutes is the schedule; 0 turns it off.
	SyncEveryMinutes int
	NextSyncAt       *time.Time
	LastRunID        *int64
}

// TableName tells GORM where lists live.
func (List) TableName() string { return "lists" }

// ListMember is a recipient's membership of a list.
type ListMember struct {
	ListID      int64
	RecipientID int64
	AddedAt     time.Time
}

// TableName tells GORM where memberships live.
func (ListMember) TableName() string { return "list_members" }

// Limits of a list's fields.
const (
	MaxListLabelLength       = 128
	MaxListDescriptionLength = 2000
)

var listNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// ListInput is a list as typed in the New list form.
type ListInput struct {
	Label        string
	InternalName string
	Description  string
}

// NextListInternalName proposes the next free LST<n> name.
func (s *Store) NextListInternalName(ctx context.Context) (string, error) {
	var maxID int64
	if err := s.q(ctx).Model(&List{}).Select("COALESCE(MAX(id), 0)").Scan(&maxID).Error; err != nil {
		return "", fmt.Errorf("propose an internal name: %w", err)
	}
	for n := maxID + 1; ; n++ {
		name := "LST" + strconv.FormatInt(n, 10)
		var taken int64
		if err := s.q(ctx).Model(&List{}).Where("internal_name = ?", name).Count(&taken).Error; err != nil {
			return "", fmt.Errorf("propose an internal name: %w", err)
		}
		if taken == 0 {
			return name, nil
		}
	}
}

// createNamed inserts a row whose internal name may have been generated:
// when a concurrent insert took that name first, a generated name is
// generated again (named by next), a chosen one is a conflict. Call it
// inside a transaction: each try runs in a savepoint.
func (s *Store) createNamed(ctx context.Context, row any, name *string, generated bool, next func() (string, error)) error {
	for try := 0; ; try++ {
		err := s.Tx(ctx, func(sp *Store) error { return sp.q(ctx).Create(row).Error })
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, gorm.ErrDuplicatedKey):
			return fmt.Errorf("insert %s: %w", *name, err)
		case !generated || try >= 50:
			return &ConflictError{Field: "internalName", Message: fmt.Sprintf("%s was taken meanwhile: choose another internal name", *name)}
		}
		n, err := next()
		if err != nil {
			return err
		}
		*name = n
	}
}

func (in *ListInput) validate() error {
	in.Label, in.InternalName, in.Description = strings.TrimSpace(in.Label), strings.TrimSpace(in.InternalName), strings.TrimSpace(in.Description)
	var v ValidationErrors
	switch {
	case in.Label == "":
		v.Add("label", "enter a label")
	case utf8.RuneCountInString(in.Label) > MaxListLabelLength:
		v.Add("label", "use at most %d characters", MaxListLabelLength)
	}
	if in.InternalName != "" && !listNamePattern.MatchString(in.InternalName) {
		v.Add("internalName", "start with a letter and use only letters, digits and _ (at most 64), such as LST12")
	}
	if utf8.RuneCountInString(in.Description) > MaxListDescriptionLength {
		v.Add("description", "use at most %d characters", MaxListDescriptionLength)
	}
	return v.Err()
}

type listSnapshot struct {
	Label        string   `json:"label"`
	InternalName string   `json:"internalName"`
	Type         ListType `json:"type"`
	Description  string   `json:"description,omitempty"`
}

func (l *List) snapshot() listSnapshot {
	return listSnapshot{Label: l.Label, InternalName: l.InternalName, Type: l.Type, Description: l.Description}
}

// CreateList stores a new regular list; an empty internal name gets the
// next LST<n>.
func (s *Store) CreateList(ctx context.Context, actor Actor, in ListInput) (*List, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	l := &List{Label: in.Label, InternalName: in.InternalName, Type: RegularList, Description: in.Description, CreatedBy: actor.OperatorID}
	generated := l.InternalName == ""
	err := s.Tx(ctx, func(tx *Store) error {
		if l.InternalName == "" {
			name, err := tx.NextListInternalName(ctx)
			if err != nil {
				return err
			}
			l.InternalName = name
		}
		if !generated {
			var taken int64
			if err := tx.q(ctx).Model(&List{}).Where("internal_name = ?", l.InternalName).Count(&taken).Error; err != nil {
				return fmt.Errorf("check internal name: %w", err)
			}
			if taken > 0 {
				return &ConflictError{Field: "internalName", Message: fmt.Sprintf("a list named %s already exists: choose another internal name", l.InternalName)}
			}
		}
		l.CreatedAt, l.UpdatedAt = tx.Now(), tx.Now()
		if err := tx.createNamed(ctx, l, &l.InternalName, generated, func() (string, error) { return tx.NextListInternalName(ctx) }); err != nil {
			return err
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "list.create", TargetType: "list", TargetID: fmt.Sprint(l.ID),
			TargetLabel: l.InternalName, Summary: fmt.Sprintf("Created list %q (%s)", l.Label, l.InternalName), After: l.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListByID loads a list.
func (s *Store) ListByID(ctx context.Context, id int64) (*List, error) {
	var l List
	if err := s.q(ctx).First(&l, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("list #%d", id))
	}
	return &l, nil
}

// DeleteList deletes a list and its memberships (not the recipients).
func (s *Store) DeleteList(ctx context.Context, actor Actor, id int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		l, err := tx.ListByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.q(ctx).Where("list_id = ?", id).Delete(&ListMember{}).Error; err != nil {
			return fmt.Errorf("delete members: %w", err)
		}
		if err := tx.q(ctx).Delete(&List{}, id).Error; err != nil {
			return fmt.Errorf("delete list: %w", err)
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "list.delete", TargetType: "list", TargetID: fmt.Sprint(l.ID),
			TargetLabel: l.InternalName, Summary: fmt.Sprintf("Deleted list %q (%s) with %d members", l.Label, l.InternalName, l.Size), Before: l.snapshot()})
	})
}

// ListQuery searches, filters, sorts and pages lists.
type ListQuery struct {
	Search     string
	Type       string
	Sort       string
	Descending bool
	// Summary loads only what a table of lists shows (listSummaryColumns),
	// leaving the other fields zero.
	Summary bool
	PageRequest
}

// listSummaryColumns are the columns of the console's table of lists:
// scanning the others (timestamps are parsed from text on SQLite) was a
// third of the page's database time.
var listSummaryColumns = []string{"id", "label", "internal_name", "type", "size", "updated_at", "last_run_id"}

// ListSorts are the columns the Lists table sorts by.
var ListSorts = map[string]string{"label": "label", "internalName": "internal_name", "type": "type", "size": "size", "modified": "updated_at"}

// ListLists returns one page of lists, most recently modified first by default.
func (s *Store) ListLists(ctx context.Context, q ListQuery) (Page[*List], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := s.q(ctx).Model(&List{})
	db = matchAny(db, q.Search, "label", "internal_name", "description")
	if q.Type != "" {
		db = db.Where("type = ?", q.Type)
	}
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*List]{}, fmt.Errorf("count lists: %w", err)
	}
	col, ok := ListSorts[q.Sort]
	dir := " ASC"
	if q.Descending {
		dir = " DESC"
	}
	if !ok {
		col, dir = "updated_at", " DESC"
	}
	if q.Summary {
		db = db.Select(listSummaryColumns)
	}
	var out []*List
	if err := db.Order(col + dir).Order("id" + dir).Limit(q.PageSize).Offset(q.Offset()).Find(&out).Error; err != nil {
		return Page[*List]{}, fmt.Errorf("list lists: %w", err)
	}
	return NewPage(q.PageRequest, total, out), nil
}

// RegularLists returns every regular list by label, for pickers.
func (s *Store) RegularLists(ctx context.Context) ([]*List, error) {
	var out []*List
	err := s.q(ctx).Where("type = ?", RegularList).Order("label").Order("id").Limit(1000).Find(&out).Error
	return out, err
}

// refreshListSize recounts a list's members after a change.
func (s *Store) refreshListSize(ctx context.Context, listID int64) error {
	err := s.q(ctx).Exec(`UPDATE lists SET size = (SELECT COUNT(*) FROM list_members WHERE list_id = ?), updated_at = ? WHERE id = ?`,
		listID, s.Now(), listID).Error
	if err != nil {
		return fmt.Errorf("update list size: %w", err)
	}
	return nil
}

func (s *Store) regularList(ctx context.Context, listID int64) (*List, error) {
	l, err := s.ListByID(ctx, listID)
	if err != nil {
		return nil, err
	}
	if l.Type != RegularList {
		return nil, &ConflictError{Message: fmt.Sprintf("%s is synchronised with a shared audience: its members come from the audience and cannot be changed by hand", l.InternalName)}
	}
	return l, nil
}

// AddListMembers puts recipients into a regular list and returns how many
// were not in it yet.
func (s *Store) AddListMembers(ctx context.Context, actor Actor, listID int64, recipientIDs []int64) (int64, error) {
	var added int64
	err := s.Tx(ctx, func(tx *Store) error {
		l, err := tx.regularList(ctx, listID)
		if err != nil {
			return err
		}
		now := tx.Now()
		for chunk := range slices.Chunk(recipientIDs, 500) {
			res := tx.q(ctx).Exec(`INSERT INTO list_members (list_id, recipient_id, added_at)
				SELECT ?, r.id, ? FROM recipients r WHERE r.id IN ?
				AND NOT EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = ? AND m.recipient_id = r.id)`, listID, now, chunk, listID)
			if res.Error != nil {
				return fmt.Errorf("add members: %w", res.Error)
			}
			added += res.RowsAffected
		}
		if err := tx.refreshListSize(ctx, listID); err != nil {
			return err
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "list.members.add", TargetType: "list", TargetID: fmt.Sprint(l.ID),
			TargetLabel: l.InternalName, Summary: fmt.Sprintf("Added %d recipients to %s", added, l.InternalName)})
	})
	return added, err
}

// RemoveListMembers takes recipients out of a regular list and returns how
// many were removed.
func (s *Store) RemoveListMembers(ctx context.Context, actor Actor, listID int64, recipientIDs []int64) (int64, error) {
	var removed int64
	err := s.Tx(ctx, func(tx *Store) error {
		l, err := tx.regularList(ctx, listID)
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(recipientIDs, 500) {
			res := tx.q(ctx).Where("list_id = ? AND recipient_id IN ?", listID, chunk).Delete(&ListMember{})
			if res.Error != nil {
				return fmt.Errorf("remove members: %w", res.Error)
			}
			removed += res.RowsAffected
		}
		if err := tx.refreshListSize(ctx, listID); err != nil {
			return err
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "list.members.remove", TargetType: "list", TargetID: fmt.Sprint(l.ID),
			TargetLabel: l.InternalName, Summary: fmt.Sprintf("Removed %d recipients from %s", removed, l.InternalName)})
	})
	return removed, err
}

// ListMembers returns one page of a list's recipients, searchable, by
// offset (the API's paging). Without a search the total is the list's
// size, which every change of its members keeps.
func (s *Store) ListMembers(ctx context.Context, listID int64, search string, req PageRequest) (Page[*Recipient], error) {
	req = req.Normalize()
	db := s.q(ctx).Model(&Recipient{}).Where("id IN (?)", s.q(ctx).Model(&ListMember{}).Select("recipient_id").Where("list_id = ?", listID))
	db = s.searchRecipients(db, search)
	var total int64
	if strings.TrimSpace(search) == "" {
		if err := s.q(ctx).Model(&List{}).Where("id = ?", listID).Pluck("size", &total).Error; err != nil {
			return Page[*Recipient]{}, fmt.Errorf("count members: %w", err)
		}
	} else if err := db.Count(&total).Error; err != nil {
		return Page[*Recipient]{}, fmt.Errorf("count members: %w", err)
	}
	var out []*Recipient
	if err := db.Order("email").Order("id").Limit(req.PageSize).Offset(req.Offset()).Find(&out).Error; err != nil {
		return Page[*Recipient]{}, fmt.Errorf("list members: %w", err)
	}
	return NewPage(req, total, out), nil
}

// BrowseListMembers returns one keyset page of a list's recipients by
// e-mail, searchable, for the console. A large list is read along the
// e-mail index, testing membership row by row (a page costs a few dozen
// lookups); a small one from its members, sorted (a few thousand rows at
// most): which is cheaper depends on the share of recipients it holds.
func (s *Store) BrowseListMembers(ctx context.Context, l *List, search string, k Keyset) (KeysetPage[*Recipient], error) {
	k = k.normalize()
	recipients, _, err := s.estimateRows(ctx, "recipients")
	if err != nil {
		return KeysetPage[*Recipient]{}, err
	}
	var db *gorm.DB
	table := ""
	if l.Size*l.Size >= int64(k.Limit)*recipients {
		db = s.q(ctx).Model(&Recipient{}).Where("EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = ? AND m.recipient_id = recipients.id)", l.ID)
	} else {
		// CROSS JOIN keeps SQLite's loop on the list's members.
		db = s.q(ctx).Table("list_members m CROSS JOIN recipients r").Select("r.*").Where("m.list_id = ? AND r.id = m.recipient_id", l.ID)
		table = "r."
	}
	total, exact := l.Size, true
	if strings.TrimSpace(search) != "" {
		if l.Size > ExactCountLimit {
			release, err := s.searchSlot(ctx)
			if err != nil {
				return KeysetPage[*Recipient]{}, err
			}
			defer release()
		}
		db = s.searchRecipients(db, search)
		if total, exact, err = s.countSearch(ctx, db.Session(&gorm.Session{}), l.Size <= ExactCountLimit); err != nil {
			return KeysetPage[*Recipient]{}, fmt.Errorf("count members: %w", err)
		}
	}
	col, key := recipientColumn("email", false, table)
	return browse(s, db, col, k, total, exact, key)
}

// RecipientLists lists the lists a recipient belongs to.
func (s *Store) RecipientLists(ctx context.Context, recipientID int64) ([]*List, error) {
	var out []*List
	err := s.q(ctx).Where("id IN (?)", s.q(ctx).Model(&ListMember{}).Select("list_id").Where("recipient_id = ?", recipientID)).
		Order("label").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("lists of recipient: %w", err)
	}
	return out, nil
}

// Sync schedule bounds, in minutes.
const (
	DefaultSyncEveryMinutes = 60
	MinSyncEveryMinutes     = 5
	MaxSyncEveryMinutes     = 7 * 24 * 60
)

// SharedAudienceInput is a shared-audience list as typed in the "Create a
// shared audience…" window, or sent to POST /api/v1/lists.
type SharedAudienceInput struct {
	ListInput
	SegmentID   int64
	SegmentName string
	// DataSource is the internal name of the AMC data source.
	DataSource string
	// SyncEveryMinutes is the schedule (0: none); nil is the default.
	SyncEveryMinutes *int
}

func validSchedule(v *ValidationErrors, every int) {
	if every != 0 && (every < MinSyncEveryMinutes || every > MaxSyncEveryMinutes) {
		v.Add("syncEveryMinutes", "synchronise every %d to %d minutes, or 0 for no schedule", MinSyncEveryMinutes, MaxSyncEveryMinutes)
	}
}

// CreateSharedAudienceList stores a list that follows a shared audience and
// queues its first import in the same transaction, so the list never exists
// without its sync. The caller has checked the segment in the library.
func (s *Store) CreateSharedAudienceList(ctx context.Context, actor Actor, in SharedAudienceInput, enqueue RunEnqueuer) (*List, *Run, error) {
	var v ValidationErrors
	if err := in.ListInput.validate(); err != nil {
		var vs ValidationErrors
		if errors.As(err, &vs) {
			v = vs
		}
	}
	if in.SegmentID <= 0 {
		v.Add("sharedAudienceId", "select a shared audience")
	}
	if strings.TrimSpace(in.DataSource) == "" {
		v.Add("dataSource", "select an AMC data source")
	}
	every := DefaultSyncEveryMinutes
	if in.SyncEveryMinutes != nil {
		every = *in.SyncEveryMinutes
	}
	validSchedule(&v, every)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	l := &List{Label: in.Label, InternalName: in.InternalName, Type: SharedAudienceList, Description: in.Description, CreatedBy: actor.OperatorID,
		SegmentID: &in.SegmentID, SegmentName: in.SegmentName, SyncEveryMinutes: every}
	var run *Run
	generated := l.InternalName == ""
	err := s.Tx(ctx, func(tx *Store) error {
		ds, err := tx.DataSourceByInternalName(ctx, in.DataSource)
		if errors.Is(err, ErrNotFound) {
			return Invalid("dataSource", "no AMC data source is named %q: choose one in the list", in.DataSource)
		}
		if err != nil {
			return err
		}
		l.DataSourceID = &ds.ID
		if l.InternalName == "" {
			if l.InternalName, err = tx.NextListInternalName(ctx); err != nil {
				return err
			}
		}
		if !generated {
			var taken int64
			if err := tx.q(ctx).Model(&List{}).Where("internal_name = ?", l.InternalName).Count(&taken).Error; err != nil {
				return fmt.Errorf("check internal name: %w", err)
			}
			if taken > 0 {
				return &ConflictError{Field: "internalName", Message: fmt.Sprintf("a list named %s already exists: choose another internal name", l.InternalName)}
			}
		}
		l.CreatedAt, l.UpdatedAt = tx.Now(), tx.Now()
		if every > 0 {
			next := tx.Now().Add(time.Duration(every) * time.Minute)
			l.NextSyncAt = &next
		}
		if err := tx.createNamed(ctx, l, &l.InternalName, generated, func() (string, error) { return tx.NextListInternalName(ctx) }); err != nil {
			return err
		}
		if err := tx.recordAudit(ctx, actor, AuditEntry{Action: "list.create", TargetType: "list", TargetID: fmt.Sprint(l.ID),
			TargetLabel: l.InternalName, Summary: fmt.Sprintf("Created shared-audience list %q (%s) on audience %d %q through %s", l.Label, l.InternalName,
				in.SegmentID, in.SegmentName, ds.InternalName), After: l.snapshot()}); err != nil {
			return err
		}
		run, _, err = tx.RequestListSync(ctx, SyncRequest{ListID: l.ID, Trigger: TriggerCreated, Actor: actor}, enqueue)
		if err != nil {
			return err
		}
		l.LastRunID = &run.ID
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return l, run, nil
}

// SetListSchedule changes how often a shared-audience list re-syncs.
func (s *Store) SetListSchedule(ctx context.Context, actor Actor, listID int64, every int) (*List, error) {
	var v ValidationErrors
	validSchedule(&v, every)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *List
	err := s.Tx(ctx, func(tx *Store) error {
		l, err := tx.ListByID(ctx, listID)
		if err != nil {
			return err
		}
		if l.Type != SharedAudienceList {
			return &ConflictError{Message: fmt.Sprintf("%s is a regular list: it has no sync schedule", l.InternalName)}
		}
		before := l.SyncEveryMinutes
		if err := tx.q(ctx).Model(&List{}).Where("id = ?", l.ID).Update("sync_every_minutes", every).Error; err != nil {
			return fmt.Errorf("set the schedule: %w", err)
		}
		if err := tx.planNextSync(ctx, l.ID, tx.Now()); err != nil {
			return err
		}
		if err := tx.recordAudit(ctx, actor, AuditEntry{Action: "list.schedule", TargetType: "list", TargetID: fmt.Sprint(l.ID), TargetLabel: l.InternalName,
			Summary: fmt.Sprintf("Sync schedule of %s: every %d minutes (was %d; 0 is none)", l.InternalName, every, before),
			Before:  map[string]int{"syncEveryMinutes": before}, After: map[string]int{"syncEveryMinutes": every}}); err != nil {
			return err
		}
		out, err = tx.ListByID(ctx, l.ID)
		return err
	})
	return out, err
}

// SharedAudienceLists returns the lists that follow a segment.
func (s *Store) SharedAudienceLists(ctx context.Context, sid int64) ([]*List, error) {
	var out []*List
	err := s.q(ctx).Where("type = ? AND segment_id = ?", SharedAudienceList, sid).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("lists of audience %d: %w", sid, err)
	}
	return out, nil
}

// AllSharedAudienceLists returns every shared-audience list, for polling a
// remote library; at most limit.
func (s *Store) AllSharedAudienceLists(ctx context.Context, limit int) ([]*List, error) {
	var out []*List
	err := s.q(ctx).Where("type = ?", SharedAudienceList).Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("shared-audience lists: %w", err)
	}
	return out, nil
}
