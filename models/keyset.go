package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ExactCountLimit is the table size up to which pages count their rows
// exactly; above it an unfiltered table shows an estimate and a search
// no total, so that a page never scans a large table to count it.
const ExactCountLimit = 20_000

// Keyset asks for one page of a table in sort order by the position of a
// row rather than by an offset, so a page far into a million rows costs
// what the first one does. The zero Keyset is the first page.
type Keyset struct {
	// After and Before are cursors from a page's Next and Prev; Last asks
	// for the last page.
	After, Before string
	Last          bool
	Limit         int
}

// KeysetPage is one page of rows with the cursors of its neighbours.
type KeysetPage[T any] struct {
	Items []T
	// Next and Prev are the cursors of the following and preceding
	// pages, "" when there is none.
	Next, Prev string
	// Offset is the position of the first item from 0, -1 when unknown
	// (a page reached from the last one of a table counted by estimate).
	Offset int64
	// Total is the number of rows, exact unless Estimated; TotalKnown is
	// false when a search of a large table was not counted.
	Total      int64
	Estimated  bool
	TotalKnown bool
	Limit      int
}

// cursor is a row's position: its sort key, its id and its offset.
type cursor struct {
	Key  *string `json:"k,omitempty"` // nil for a NULL key
	Time bool    `json:"t,omitempty"` // the key is a time (RFC 3339)
	ID   int64   `json:"i"`
	At   int64   `json:"a"` // offset of the page it starts, -1 unknown
}

func (c cursor) encode() string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of strings and numbers always marshals
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return c, Invalid("cursor", "the page link is damaged: start from the first page")
	}
	return c, nil
}

// value is the key as a query argument.
func (c cursor) value() (any, error) {
	if c.Key == nil {
		return nil, nil
	}
	if c.Time {
		t, err := time.Parse(time.RFC3339Nano, *c.Key)
		if err != nil {
			return nil, Invalid("cursor", "the page link is damaged: start from the first page")
		}
		return t, nil
	}
	return *c.Key, nil
}

// keyOf makes the cursor key of a sort column's value.
func keyOf(v any) (*string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case *string:
		return x, false
	case string:
		return &x, false
	case time.Time:
		s := x.UTC().Format(time.RFC3339Nano)
		return &s, true
	}
	s := fmt.Sprint(v)
	return &s, false
}

// keysetColumn is the sort column of a keyset page: NULLs, where the
// column has them, sort first ascending and last descending on both
// databases (SQLite's order).
type keysetColumn struct {
	name     string // qualified as the query needs, e.g. r.email
	id       string // the tie-breaking id column
	nullable bool
	desc     bool
}

// keysetQuery applies a keyset request to a query: the condition after or
// before the cursor, the order and the limit (one more than the page, to
// see whether another follows). It reports whether the rows come in
// reverse order (a Prev or Last page) and the cursor it started from.
func (s *Store) keysetQuery(db *gorm.DB, col keysetColumn, k Keyset) (*gorm.DB, bool, cursor, error) {
	var cur cursor
	backward := k.Before != "" || (k.Last && k.After == "")
	raw := k.After
	if k.Before != "" {
		raw = k.Before
	}
	if raw != "" {
		var err error
		if cur, err = decodeCursor(raw); err != nil {
			return nil, false, cur, err
		}
		v, err := cur.value()
		if err != nil {
			return nil, false, cur, err
		}
		// Ascending in the scan's direction: after the cursor going
		// forward on an ascending sort, or before it going backward on a
		// descending one.
		up := backward == col.desc
		op, idOp := ">", ">"
		if !up {
			op, idOp = "<", "<"
		}
		switch {
		case v == nil && up:
			db = db.Where(fmt.Sprintf("(%s IS NULL AND %s %s ?) OR %s IS NOT NULL", col.name, col.id, idOp, col.name), cur.ID)
		case v == nil:
			db = db.Where(fmt.Sprintf("%s IS NULL AND %s %s ?", col.name, col.id, idOp), cur.ID)
		case col.nullable && !up:
			db = db.Where(fmt.Sprintf("(%s %s= ? AND (%s %s ? OR %s %s ?)) OR %s IS NULL", col.name, op, col.name, op, col.id, idOp, col.name), v, v, cur.ID)
		default:
			// The first term bounds an index range, the second breaks ties.
			db = db.Where(fmt.Sprintf("%s %s= ? AND (%s %s ? OR %s %s ?)", col.name, op, col.name, op, col.id, idOp), v, v, cur.ID)
		}
	}
	dir := " ASC"
	if backward != col.desc {
		dir = " DESC"
	}
	order := col.name + dir
	if col.nullable && s.dialect == Postgres {
		// SQLite sorts NULL first ascending; PostgreSQL is told to.
		if dir == " ASC" {
			order += " NULLS FIRST"
		} else {
			order += " NULLS LAST"
		}
	}
	return db.Order(order).Order(col.id + dir).Limit(k.Limit + 1), backward, cur, nil
}

// keysetPage turns the rows of a keyset query into a page: in sort order,
// with the cursors of the pages around it. keyOfRow returns a row's sort
// value and id.
func keysetPage[T any](rows []T, k Keyset, backward bool, from cursor, total int64, exact bool, keyOfRow func(T) (any, int64)) KeysetPage[T] {
	more := len(rows) > k.Limit
	if more {
		rows = rows[:k.Limit]
	}
	if backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	p := KeysetPage[T]{Items: rows, Total: total, Estimated: !exact && total >= 0, TotalKnown: total >= 0, Limit: k.Limit}
	if p.Total < 0 {
		p.Total = 0
	}
	switch {
	case k.After == "" && k.Before == "" && !k.Last:
		p.Offset = 0
	case k.After != "":
		p.Offset = from.At
	case k.Before != "" && from.At >= 0:
		p.Offset = max(0, from.At-int64(len(rows)))
	case k.Last && exact:
		p.Offset = max(0, total-int64(len(rows)))
	default:
		p.Offset = -1
	}
	if len(rows) == 0 {
		return p
	}
	at := func(off int64) int64 {
		if p.Offset < 0 {
			return -1
		}
		return off
	}
	cursorOf := func(row T, off int64) string {
		v, id := keyOfRow(row)
		key, isTime := keyOf(v)
		return cursor{Key: key, Time: isTime, ID: id, At: off}.encode()
	}
	hasNext, hasPrev := more, k.After != ""
	if backward {
		hasNext, hasPrev = k.Before != "", more
	}
	if hasNext {
		p.Next = cursorOf(rows[len(rows)-1], at(p.Offset+int64(len(rows))))
	}
	if hasPrev {
		// A page reached backward from the last one may be short of a
		// full page's rows before it: its Prev then starts at 0.
		p.Prev = cursorOf(rows[0], at(p.Offset))
	}
	return p
}

// estimateRows is a cheap count of a table with an integer id: exact when
// the table is small, else PostgreSQL's planner estimate or, on SQLite,
// the span of its ids (recipients are never deleted, so it is close).
func (s *Store) estimateRows(ctx context.Context, table string) (int64, bool, error) {
	var n int64
	if s.dialect == Postgres {
		if err := s.q(ctx).Raw("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(?)", table).Scan(&n).Error; err != nil {
			return 0, false, fmt.Errorf("estimate %s: %w", table, err)
		}
	}
	if n == 0 {
		// Two subqueries: SQLite reads one end of the index for a lone
		// MIN or MAX, but scans the table for both in one SELECT.
		if err := s.q(ctx).Raw("SELECT COALESCE((SELECT MAX(id) FROM " + table + ") - (SELECT MIN(id) FROM " + table + ") + 1, 0)").Scan(&n).Error; err != nil {
			return 0, false, fmt.Errorf("estimate %s: %w", table, err)
		}
	}
	if n > ExactCountLimit {
		return n, false, nil
	}
	if err := s.q(ctx).Table(table).Count(&n).Error; err != nil {
		return 0, false, fmt.Errorf("count %s: %w", table, err)
	}
	return n, true, nil
}

// normalize bounds the page size.
func (k Keyset) normalize() Keyset {
	k.Limit = PageRequest{PageSize: k.Limit}.Normalize().PageSize
	return k
}

// isDigits reports whether s is made of ASCII digits only.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
