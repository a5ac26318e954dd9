// Package library is the audience library (Adobe's People core service /
// Audience Manager side): data sources, segments and their members. One
// interface serves everything downstream — the import and export syncs, the
// picker, the /aam/v1 API — with two implementations: the embedded library
// in the console's own database, and a client of a remote
// Audience-Manager-shaped API.
package library

import (
	"context"
	"time"
)

// IDType is what a library data source's identifiers are, in Audience
// Manager's words.
type IDType string

// The identifier types of SPEC.md.
const (
	// Cookie identifiers are Experience Cloud visitor IDs.
	Cookie IDType = "COOKIE"
	// CrossDevice identifiers are declared IDs.
	CrossDevice IDType = "CROSS_DEVICE"
)

// Status of a data source or segment.
const (
	Active   = "ACTIVE"
	Inactive = "INACTIVE"
)

// Sources a segment can come from.
var Sources = []string{"Audience Manager", "Analytics", "Experience Cloud", "Campaign"}

// DataSource is a library data source (a DPID).
type DataSource struct {
	ID              int64  `json:"dataSourceId"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	IntegrationCode string `json:"integrationCode"`
	IDType          IDType `json:"idType"`
	Status          string `json:"status"`
}

// Segment is a shared audience.
type Segment struct {
	SID             int64     `json:"sid"`
	Name            string    `json:"name"`
	Description     string    `json:"description"`
	IntegrationCode string    `json:"integrationCode"`
	DataSourceID    int64     `json:"dataSourceId"`
	Status          string    `json:"status"`
	Source          string    `json:"source"`
	Author          string    `json:"author"`
	Size            int64     `json:"size"`
	Collecting      bool      `json:"collecting"`
	CreateTime      time.Time `json:"-"`
	UpdateTime      time.Time `json:"-"`
}

// Active reports whether the segment is active.
func (s Segment) Active() bool { return s.Status == Active }

// SegmentInput is what creating or updating a segment takes.
type SegmentInput struct {
	Name            string
	Description     string
	IntegrationCode string
	DataSourceID    int64
	Status          string // "" is ACTIVE
	Source          string // "" is Audience Manager
	Author          string
	// Collecting marks a segment created for an export, still empty.
	Collecting bool
}

// Query searches, sorts and pages segments. SortBy is one of name, size,
// source, createTime, updateTime (the default, newest first).
type Query struct {
	Search       string
	SortBy       string
	Descending   bool
	DataSourceID int64
	Page         int
	PageSize     int
}

// SegmentPage is one page of segments.
type SegmentPage struct {
	Total    int64     `json:"total"`
	Page     int       `json:"page"`
	PageSize int       `json:"pageSize"`
	List     []Segment `json:"list"`
}

// LineError is a member that was refused, by its position (from 1).
type LineError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// MemberResult is the answer to a change of members.
type MemberResult struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []LineError `json:"errors"`
	Size     int64       `json:"size"`
}

// MaxLineErrors caps the errors a member change lists; the count is exact.
const MaxLineErrors = 1000

// MemberSource yields identifiers one at a time, io.EOF at the end, so a
// million members never sit in memory at once.
type MemberSource interface {
	Next() (string, error)
}

// MemberBatchSize is how many members a stream hands over at a time.
const MemberBatchSize = 10000

// Library is the audience library, embedded or remote.
type Library interface {
	DataSources(ctx context.Context) ([]DataSource, error)
	DataSource(ctx context.Context, id int64) (DataSource, error)
	CreateDataSource(ctx context.Context, ds DataSource) (DataSource, error)

	Segments(ctx context.Context, q Query) (SegmentPage, error)
	Segment(ctx context.Context, sid int64) (Segment, error)
	SegmentByIntegrationCode(ctx context.Context, code string) (Segment, error)
	CreateSegment(ctx context.Context, in SegmentInput) (Segment, error)
	UpdateSegment(ctx context.Context, sid int64, in SegmentInput) (Segment, error)
	DeleteSegment(ctx context.Context, sid int64) error

	// Members streams a segment's members in batches of at most
	// MemberBatchSize, in a stable order.
	Members(ctx context.Context, sid int64, fn func(batch []string) error) error
	// ReplaceMembers makes src the segment's members, atomically: a reader
	// sees the old members or the new ones.
	ReplaceMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error)
	AddMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error)
	RemoveMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error)
}
