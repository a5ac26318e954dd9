package library

import (
	"context"
	"fmt"
	"strings"

	"audiencebridge/identity"
	"audiencebridge/models"
)

// Embedded is the audience library kept in the console's own database.
type Embedded struct {
	Store *models.Store
	// Changed is told the sid of every segment whose members changed, so
	// lists built on it can re-sync within seconds; nil tells nobody.
	Changed func(ctx context.Context, sid int64)
}

// NewEmbedded returns the embedded library on store.
func NewEmbedded(store *models.Store) *Embedded { return &Embedded{Store: store} }

var _ Library = (*Embedded)(nil)

func dataSourceOf(d *models.LibDataSource) DataSource {
	ds := DataSource{ID: d.ID, Name: d.Name, Description: d.Description, IDType: IDType(d.IDType), Status: d.Status}
	if d.IntegrationCode != nil {
		ds.IntegrationCode = *d.IntegrationCode
	}
	return ds
}

func segmentOf(s *models.LibSegment) Segment {
	seg := Segment{SID: s.SID, Name: s.Name, Description: s.Description, DataSourceID: s.DataSourceID, Status: s.Status,
		Source: s.Source, Author: s.Author, Size: s.Size, Collecting: s.Collecting, CreateTime: s.CreatedAt, UpdateTime: s.UpdatedAt}
	if s.IntegrationCode != nil {
		seg.IntegrationCode = *s.IntegrationCode
	}
	return seg
}

// DataSources lists the library's data sources.
func (e *Embedded) DataSources(ctx context.Context) ([]DataSource, error) {
	rows, err := e.Store.LibDataSources(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DataSource, len(rows))
	for i := range rows {
		out[i] = dataSourceOf(&rows[i])
	}
	return out, nil
}

// DataSource loads one data source.
func (e *Embedded) DataSource(ctx context.Context, id int64) (DataSource, error) {
	d, err := e.Store.LibDataSource(ctx, id)
	if err != nil {
		return DataSource{}, err
	}
	return dataSourceOf(d), nil
}

// CreateDataSource adds a data source; an ID of 0 gets the next free one.
func (e *Embedded) CreateDataSource(ctx context.Context, ds DataSource) (DataSource, error) {
	in := models.LibDataSource{ID: ds.ID, Name: ds.Name, Description: ds.Description, IDType: string(ds.IDType), Status: ds.Status}
	if ds.IntegrationCode != "" {
		code := ds.IntegrationCode
		in.IntegrationCode = &code
	}
	d, err := e.Store.CreateLibDataSource(ctx, in)
	if err != nil {
		return DataSource{}, err
	}
	return dataSourceOf(d), nil
}

// Segments returns one page of segments.
func (e *Embedded) Segments(ctx context.Context, q Query) (SegmentPage, error) {
	page, err := e.Store.LibSegments(ctx, models.LibSegmentQuery{Search: q.Search, SortBy: q.SortBy, Descending: q.Descending,
		DataSourceID: q.DataSourceID, PageRequest: models.PageRequest{Page: q.Page, PageSize: q.PageSize}})
	if err != nil {
		return SegmentPage{}, err
	}
	out := SegmentPage{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]Segment, len(page.Items))}
	for i, s := range page.Items {
		out.List[i] = segmentOf(s)
	}
	return out, nil
}

// Segment loads one segment.
func (e *Embedded) Segment(ctx context.Context, sid int64) (Segment, error) {
	s, err := e.Store.LibSegment(ctx, sid)
	if err != nil {
		return Segment{}, err
	}
	return segmentOf(s), nil
}

// SegmentByIntegrationCode loads a segment by its integration code.
func (e *Embedded) SegmentByIntegrationCode(ctx context.Context, code string) (Segment, error) {
	s, err := e.Store.LibSegmentByCode(ctx, code)
	if err != nil {
		return Segment{}, err
	}
	return segmentOf(s), nil
}

func inputOf(in SegmentInput) models.LibSegmentInput {
	return models.LibSegmentInput{Name: in.Name, Description: in.Description, IntegrationCode: in.IntegrationCode, DataSourceID: in.DataSourceID,
		Status: in.Status, Source: in.Source, Author: in.Author, Collecting: in.Collecting}
}

// CreateSegment adds an empty segment.
func (e *Embedded) CreateSegment(ctx context.Context, in SegmentInput) (Segment, error) {
	s, err := e.Store.CreateLibSegment(ctx, inputOf(in))
	if err != nil {
		return Segment{}, err
	}
	return segmentOf(s), nil
}

// UpdateSegment changes a segment's fields.
func (e *Embedded) UpdateSegment(ctx context.Context, sid int64, in SegmentInput) (Segment, error) {
	s, err := e.Store.UpdateLibSegment(ctx, sid, inputOf(in))
	if err != nil {
		return Segment{}, err
	}
	return segmentOf(s), nil
}

// DeleteSegment deletes a segment and its members.
func (e *Embedded) DeleteSegment(ctx context.Context, sid int64) error {
	if err := e.Store.DeleteLibSegment(ctx, sid); err != nil {
		return err
	}
	e.changed(ctx, sid)
	return nil
}

// Members streams a segment's members in identifier order. The next batch
// is read while fn handles one, so reading and what fn does (staging, in a
// sync) overlap.
func (e *Embedded) Members(ctx context.Context, sid int64, fn func([]string) error) error {
	if _, err := e.Store.LibSegment(ctx, sid); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	type page struct {
		batch []string
		err   error
	}
	pages := make(chan page, 1)
	go func() {
		defer close(pages)
		after := ""
		for {
			batch, err := e.Store.LibMembersAfter(ctx, sid, after, MemberBatchSize)
			select {
			case pages <- page{batch, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(batch) == 0 {
				return
			}
			after = batch[len(batch)-1]
		}
	}()
	defer func() {
		cancel()
		for range pages { // the reader has stopped once pages is closed
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		if len(p.batch) == 0 {
			return nil
		}
		if err := fn(p.batch); err != nil {
			return err
		}
	}
	return ctx.Err() // the reader stopped because ctx was cancelled
}

// MemberCheck returns the validator of members for a data source type:
// visitor IDs must be ECIDs, declared IDs valid declared IDs.
func MemberCheck(t IDType) func(string) (string, error) {
	return func(raw string) (string, error) {
		v := strings.TrimSpace(raw)
		var err error
		if t == Cookie {
			err = identity.ValidateECID(v)
		} else {
			err = identity.ValidateDeclaredID(v)
		}
		return v, err
	}
}

func (e *Embedded) change(ctx context.Context, sid int64, change models.MemberChange, src MemberSource) (MemberResult, error) {
	seg, err := e.Store.LibSegment(ctx, sid)
	if err != nil {
		return MemberResult{}, err
	}
	ds, err := e.Store.LibDataSource(ctx, seg.DataSourceID)
	if err != nil {
		return MemberResult{}, fmt.Errorf("segment %d: %w", sid, err)
	}
	counts, err := e.Store.ChangeLibMembers(ctx, sid, change, src.Next, MemberCheck(IDType(ds.IDType)))
	if err != nil {
		return MemberResult{}, err
	}
	res := MemberResult{Accepted: counts.Accepted, Rejected: counts.Rejected, Size: counts.Size, Errors: make([]LineError, len(counts.Errors))}
	for i, le := range counts.Errors {
		res.Errors[i] = LineError{Line: le.Line, Reason: le.Reason}
	}
	e.changed(ctx, sid)
	return res, nil
}

func (e *Embedded) changed(ctx context.Context, sid int64) {
	if e.Changed != nil {
		e.Changed(ctx, sid)
	}
}

// ReplaceMembers makes src the segment's members, atomically.
func (e *Embedded) ReplaceMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error) {
	return e.change(ctx, sid, models.ReplaceMembers, src)
}

// AddMembers adds members.
func (e *Embedded) AddMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error) {
	return e.change(ctx, sid, models.AddMembers, src)
}

// RemoveMembers removes members.
func (e *Embedded) RemoveMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error) {
	return e.change(ctx, sid, models.RemoveMembers, src)
}
