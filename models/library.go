package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// LibDataSource is a data source of the embedded audience library.
type LibDataSource struct {
	ID              int64 `gorm:"primaryKey;autoIncrement:false"`
	Name            string
	Description     string
	IntegrationCode *string
	IDType          string
	Status          string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName tells GORM where library data sources live.
func (LibDataSource) TableName() string { return "lib_data_sources" }

// LibSegment is a segment (shared audience) of the embedded library.
type LibSegment struct {
	SID             int64 `gorm:"primaryKey;column:sid"`
	Name            string
	Description     string
	IntegrationCode *string
	DataSourceID    int64
	Status          string
	Source          string
	Author          string
	Size            int64
	Collecting      bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName tells GORM where segments live.
func (LibSegment) TableName() string { return "lib_segments" }

// LibSize is a segment's size at a time.
type LibSize struct {
	SegmentID int64
	At        time.Time
	Size      int64
}

// TableName tells GORM where size history lives.
func (LibSize) TableName() string { return "lib_segment_sizes" }

// Limits of library fields.
const (
	MaxSegmentNameLength = 255
	MaxDescriptionLength = 2000
	MaxIntegrationCode   = 255
)

var libStatuses = []string{"ACTIVE", "INACTIVE"}
var libSources = []string{"Audience Manager", "Analytics", "Experience Cloud", "Campaign"}

func validIntegrationCode(v *ValidationErrors, code string) {
	switch {
	case len(code) > MaxIntegrationCode:
		v.Add("integrationCode", "use at most %d characters", MaxIntegrationCode)
	case strings.ContainsAny(code, ":\t\r\n,"):
		v.Add("integrationCode", "must not contain \":\", commas, tabs or line breaks")
	}
}

// LibDataSources lists the library's data sources by id.
func (s *Store) LibDataSources(ctx context.Context) ([]LibDataSource, error) {
	var out []LibDataSource
	if err := s.q(ctx).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list library data sources: %w", err)
	}
	return out, nil
}

// LibDataSource loads one library data source.
func (s *Store) LibDataSource(ctx context.Context, id int64) (*LibDataSource, error) {
	var ds LibDataSource
	if err := s.q(ctx).First(&ds, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("library data source %d", id))
	}
	return &ds, nil
}

// CreateLibDataSource stores a library data source; an ID of 0 gets the
// next free one.
func (s *Store) CreateLibDataSource(ctx context.Context, ds LibDataSource) (*LibDataSource, error) {
	ds.Name, ds.Description = strings.TrimSpace(ds.Name), strings.TrimSpace(ds.Description)
	var v ValidationErrors
	if ds.Name == "" {
		v.Add("name", "enter a name")
	} else if utf8.RuneCountInString(ds.Name) > MaxSegmentNameLength {
		v.Add("name", "use at most %d characters", MaxSegmentNameLength)
	}
	if ds.IDType != "COOKIE" && ds.IDType != "CROSS_DEVICE" {
		v.Add("idType", "must be COOKIE (visitor IDs) or CROSS_DEVICE (declared IDs)")
	}
	if ds.Status == "" {
		ds.Status = "ACTIVE"
	} else if !slices.Contains(libStatuses, ds.Status) {
		v.Add("status", "must be ACTIVE or INACTIVE")
	}
	if ds.ID < 0 {
		v.Add("dataSourceId", "must be a positive whole number")
	}
	if ds.IntegrationCode != nil {
		if *ds.IntegrationCode = strings.TrimSpace(*ds.IntegrationCode); *ds.IntegrationCode == "" {
			ds.IntegrationCode = nil
		} else {
			validIntegrationCode(&v, *ds.IntegrationCode)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if ds.ID == 0 {
			var maxID int64
			if err := tx.q(ctx).Model(&LibDataSource{}).Select("COALESCE(MAX(id), 100000)").Scan(&maxID).Error; err != nil {
				return fmt.Errorf("assign a data source id: %w", err)
			}
			ds.ID = maxID + 1
		} else if _, err := tx.LibDataSource(ctx, ds.ID); err == nil {
			return &ConflictError{Field: "dataSourceId", Message: fmt.Sprintf("data source %d already exists", ds.ID)}
		}
		if ds.IntegrationCode != nil {
			var n int64
			if err := tx.q(ctx).Model(&LibDataSource{}).Where("integration_code = ?", *ds.IntegrationCode).Count(&n).Error; err != nil {
				return fmt.Errorf("check integration code: %w", err)
			}
			if n > 0 {
				return &ConflictError{Field: "integrationCode", Message: fmt.Sprintf("a data source already has the integration code %q", *ds.IntegrationCode)}
			}
		}
		ds.CreatedAt, ds.UpdatedAt = tx.Now(), tx.Now()
		if err := tx.q(ctx).Create(&ds).Error; err != nil {
			return fmt.Errorf("store library data source: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ds, nil
}

// LibSegmentInput is what creating or updating a segment takes.
type LibSegmentInput struct {
	Name            string
	Description     string
	IntegrationCode string
	DataSourceID    int64
	Status          string
	Source          string
	Author          string
	Collecting      bool
}

func (s *Store) validateSegment(ctx context.Context, in *LibSegmentInput, exceptSID int64) error {
	in.Name, in.Description, in.IntegrationCode = strings.TrimSpace(in.Name), strings.TrimSpace(in.Description), strings.TrimSpace(in.IntegrationCode)
	var v ValidationErrors
	if in.Name == "" {
		v.Add("name", "enter a name")
	} else if utf8.RuneCountInString(in.Name) > MaxSegmentNameLength {
		v.Add("name", "use at most %d characters", MaxSegmentNameLength)
	}
	if utf8.RuneCountInString(in.Description) > MaxDescriptionLength {
		v.Add("description", "use at most %d characters", MaxDescriptionLength)
	}
	validIntegrationCode(&v, in.IntegrationCode)
	if in.Status == "" {
		in.Status = "ACTIVE"
	} else if !slices.Contains(libStatuses, in.Status) {
		v.Add("status", "must be ACTIVE or INACTIVE")
	}
	if in.Source == "" {
		in.Source = "Audience Manager"
	} else if !slices.Contains(libSources, in.Source) {
		v.Add("source", "must be one of %s", strings.Join(libSources, ", "))
	}
	if len(in.Author) > 255 {
		v.Add("author", "use at most 255 characters")
	}
	if in.DataSourceID <= 0 {
		v.Add("dataSourceId", "choose the data source of the segment's identifiers")
	} else if _, err := s.LibDataSource(ctx, in.DataSourceID); errors.Is(err, ErrNotFound) {
		v.Add("dataSourceId", "data source %d does not exist", in.DataSourceID)
	} else if err != nil {
		return err
	}
	if err := v.Err(); err != nil {
		return err
	}
	if in.IntegrationCode != "" {
		var n int64
		if err := s.q(ctx).Model(&LibSegment{}).Where("integration_code = ? AND sid <> ?", in.IntegrationCode, exceptSID).Count(&n).Error; err != nil {
			return fmt.Errorf("check integration code: %w", err)
		}
		if n > 0 {
			return &ConflictError{Field: "integrationCode", Message: fmt.Sprintf("another segment has the integration code %q", in.IntegrationCode)}
		}
	}
	return nil
}

// CreateLibSegment stores a new, empty segment.
func (s *Store) CreateLibSegment(ctx context.Context, in LibSegmentInput) (*LibSegment, error) {
	var seg *LibSegment
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.validateSegment(ctx, &in, 0); err != nil {
			return err
		}
		now := tx.Now()
		seg = &LibSegment{Name: in.Name, Description: in.Description, IntegrationCode: optional(in.IntegrationCode), DataSourceID: in.DataSourceID,
			Status: in.Status, Source: in.Source, Author: in.Author, Collecting: in.Collecting, CreatedAt: now, UpdatedAt: now}
		if err := tx.q(ctx).Create(seg).Error; err != nil {
			return fmt.Errorf("store segment: %w", err)
		}
		return tx.q(ctx).Create(&LibSize{SegmentID: seg.SID, At: now, Size: 0}).Error
	})
	return seg, err
}

// UpdateLibSegment changes a segment's description fields; its members and
// its data source stay.
func (s *Store) UpdateLibSegment(ctx context.Context, sid int64, in LibSegmentInput) (*LibSegment, error) {
	var seg *LibSegment
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if seg, err = tx.LibSegment(ctx, sid); err != nil {
			return err
		}
		if in.DataSourceID == 0 {
			in.DataSourceID = seg.DataSourceID
		}
		if in.DataSourceID != seg.DataSourceID && seg.Size > 0 {
			return &ConflictError{Field: "dataSourceId", Message: "a segment with members keeps its data source: its members are identifiers of that source"}
		}
		if err := tx.validateSegment(ctx, &in, sid); err != nil {
			return err
		}
		seg.Name, seg.Description, seg.IntegrationCode, seg.DataSourceID = in.Name, in.Description, optional(in.IntegrationCode), in.DataSourceID
		seg.Status, seg.Source, seg.UpdatedAt = in.Status, in.Source, tx.Now()
		if in.Author != "" {
			seg.Author = in.Author
		}
		return tx.q(ctx).Save(seg).Error
	})
	return seg, err
}

// DeleteLibSegment deletes a segment and its members.
func (s *Store) DeleteLibSegment(ctx context.Context, sid int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.LibSegment(ctx, sid); err != nil {
			return err
		}
		for _, table := range []string{"lib_members", "lib_segment_sizes"} {
			if err := tx.q(ctx).Exec("DELETE FROM "+table+" WHERE segment_id = ?", sid).Error; err != nil {
				return fmt.Errorf("delete segment: %w", err)
			}
		}
		return tx.q(ctx).Delete(&LibSegment{}, sid).Error
	})
}

// LibSegment loads one segment.
func (s *Store) LibSegment(ctx context.Context, sid int64) (*LibSegment, error) {
	var seg LibSegment
	if err := s.q(ctx).First(&seg, sid).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("segment %d", sid))
	}
	return &seg, nil
}

// LibSegmentByCode loads a segment by its integration code.
func (s *Store) LibSegmentByCode(ctx context.Context, code string) (*LibSegment, error) {
	var seg LibSegment
	if err := s.q(ctx).Where("integration_code = ?", code).First(&seg).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("segment with integration code %q", code))
	}
	return &seg, nil
}

// LibSegmentQuery searches, sorts and pages segments.
type LibSegmentQuery struct {
	Search       string
	SortBy       string
	Descending   bool
	DataSourceID int64
	PageRequest
}

// LibSegmentSorts are the sort keys of the segments list.
var LibSegmentSorts = map[string]string{"name": "name", "size": "size", "source": "source", "createTime": "created_at", "updateTime": "updated_at", "status": "status"}

// LibSegments returns one page of segments.
func (s *Store) LibSegments(ctx context.Context, q LibSegmentQuery) (Page[*LibSegment], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := s.q(ctx).Model(&LibSegment{})
	db = matchAny(db, q.Search, "name", "description", "integration_code")
	if q.DataSourceID != 0 {
		db = db.Where("data_source_id = ?", q.DataSourceID)
	}
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*LibSegment]{}, fmt.Errorf("count segments: %w", err)
	}
	col, ok := LibSegmentSorts[q.SortBy]
	dir := " ASC"
	if q.Descending {
		dir = " DESC"
	}
	if !ok {
		col, dir = "updated_at", " DESC"
	}
	var out []*LibSegment
	if err := db.Order(col + dir).Order("sid" + dir).Limit(q.PageSize).Offset(q.Offset()).Find(&out).Error; err != nil {
		return Page[*LibSegment]{}, fmt.Errorf("list segments: %w", err)
	}
	return NewPage(q.PageRequest, total, out), nil
}

// LibMembersAfter returns up to limit members of a segment that sort after
// `after`, for streaming by keyset.
func (s *Store) LibMembersAfter(ctx context.Context, sid int64, after string, limit int) ([]string, error) {
	// Rows scanned one by one: GORM's Scan into a slice reflects on every
	// row, and a sync reads a million of them.
	rows, err := s.q(ctx).Raw(`SELECT member FROM lib_members WHERE segment_id = ? AND member > ? ORDER BY member LIMIT ?`, sid, after, limit).Rows()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	defer rows.Close()
	var out []string
	if limit > 0 {
		out = make([]string, 0, min(limit, 1<<14))
	}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("read members: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	return out, nil
}

// LibSizeHistory returns a segment's sizes, oldest first, at most limit.
func (s *Store) LibSizeHistory(ctx context.Context, sid int64, limit int) ([]LibSize, error) {
	var out []LibSize
	err := s.q(ctx).Where("segment_id = ?", sid).Order("at DESC").Limit(limit).Find(&out).Error
	slices.Reverse(out)
	return out, err
}

// MemberChange says how a stream of members changes a segment.
type MemberChange string

// The member changes of the API: PUT replaces, POST adds, DELETE removes.
const (
	ReplaceMembers MemberChange = "replace"
	AddMembers     MemberChange = "add"
	RemoveMembers  MemberChange = "remove"
)

// MemberLineError is a refused member by its position.
type MemberLineError struct {
	Line   int
	Reason string
}

// MemberCounts is the result of a member change.
type MemberCounts struct {
	Accepted, Rejected int
	Errors             []MemberLineError
	Size               int64
}

// maxMemberErrors caps the errors listed; the rejected count is exact.
const maxMemberErrors = 1000

const memberBatch = 1000

// ChangeLibMembers applies a stream of members to a segment. next yields raw
// values (io.EOF at the end); check turns one into the stored identifier or
// says why it is refused. Adding and removing happen in one transaction; a
// replacement is staged first and swapped in with one short transaction.
func (s *Store) ChangeLibMembers(ctx context.Context, sid int64, change MemberChange, next func() (string, error),
	check func(string) (string, error)) (MemberCounts, error) {
	var res MemberCounts
	if _, err := s.LibSegment(ctx, sid); err != nil {
		return res, err
	}
	token, err := NewToken()
	if err != nil {
		return res, err
	}
	apply := func(tx *Store, batch []string) error {
		if len(batch) == 0 {
			return nil
		}
		switch change {
		case RemoveMembers:
			return tx.q(ctx).Exec("DELETE FROM lib_members WHERE segment_id = ? AND member IN ?", sid, batch).Error
		case AddMembers:
			return tx.insertPairs(ctx, "lib_members (segment_id, member)", sid, batch)
		default:
			return tx.insertPairs(ctx, "lib_member_staging (token, member)", token, batch)
		}
	}
	read := func(tx *Store) error {
		batch := make([]string, 0, memberBatch)
		for line := 1; ; line++ {
			raw, err := next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read member on line %d: %w", line, err)
			}
			if strings.TrimSpace(raw) == "" {
				continue
			}
			id, cerr := check(raw)
			if cerr != nil {
				res.Rejected++
				if len(res.Errors) < maxMemberErrors {
					res.Errors = append(res.Errors, MemberLineError{Line: line, Reason: cerr.Error()})
				}
				continue
			}
			res.Accepted++
			batch = append(batch, id)
			if len(batch) == memberBatch {
				if err := apply(tx, batch); err != nil {
					return fmt.Errorf("store members: %w", err)
				}
				batch = batch[:0]
			}
		}
		if err := apply(tx, batch); err != nil {
			return fmt.Errorf("store members: %w", err)
		}
		return nil
	}
	if change == ReplaceMembers {
		// Staging writes commit in chunks; a failure leaves only staging rows,
		// which are removed below, and the segment untouched.
		defer s.q(context.WithoutCancel(ctx)).Exec("DELETE FROM lib_member_staging WHERE token = ?", token)
		if err := read(s); err != nil {
			return res, err
		}
		err = s.Tx(ctx, func(tx *Store) error {
			if err := tx.q(ctx).Exec("DELETE FROM lib_members WHERE segment_id = ?", sid).Error; err != nil {
				return fmt.Errorf("replace members: %w", err)
			}
			if err := tx.q(ctx).Exec("INSERT INTO lib_members (segment_id, member) SELECT ?, member FROM lib_member_staging WHERE token = ?", sid, token).Error; err != nil {
				return fmt.Errorf("replace members: %w", err)
			}
			return tx.afterMemberChange(ctx, sid, &res)
		})
		return res, err
	}
	err = s.Tx(ctx, func(tx *Store) error {
		if err := read(tx); err != nil {
			return err
		}
		return tx.afterMemberChange(ctx, sid, &res)
	})
	return res, err
}

func (s *Store) insertPairs(ctx context.Context, target string, key any, values []string) error {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + target + " VALUES ")
	args := make([]any, 0, 2*len(values))
	for i, v := range values {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(?,?)")
		args = append(args, key, v)
	}
	sb.WriteString(" ON CONFLICT DO NOTHING")
	return s.q(ctx).Exec(sb.String(), args...).Error
}

func (s *Store) afterMemberChange(ctx context.Context, sid int64, res *MemberCounts) error {
	if err := s.q(ctx).Raw("SELECT COUNT(*) FROM lib_members WHERE segment_id = ?", sid).Scan(&res.Size).Error; err != nil {
		return fmt.Errorf("count members: %w", err)
	}
	now := s.Now()
	if err := s.q(ctx).Model(&LibSegment{}).Where("sid = ?", sid).
		Updates(map[string]any{"size": res.Size, "updated_at": now, "collecting": false}).Error; err != nil {
		return fmt.Errorf("update segment size: %w", err)
	}
	return s.q(ctx).Create(&LibSize{SegmentID: sid, At: now, Size: res.Size}).Error
}
