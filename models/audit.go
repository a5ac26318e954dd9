package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Actor is who made a change: an operator in the console, or a named
// system actor such as the command line.
type Actor struct {
	OperatorID *int64
	Name       string
}

// ActorOf is the actor for changes an operator makes.
func ActorOf(op *Operator) Actor {
	id := op.ID
	return Actor{OperatorID: &id, Name: op.Login}
}

// SystemActor is the actor for changes made outside the console.
func SystemActor(name string) Actor { return Actor{Name: name} }

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID          int64
	At          time.Time
	ActorID     *int64
	Actor       string
	Action      string
	TargetType  string
	TargetID    string
	TargetLabel string
	Summary     string
	BeforeJSON  string
	AfterJSON   string
}

// TableName tells GORM where audit events live.
func (AuditEvent) TableName() string { return "audit_events" }

// AuditEntry describes a change to record; Before and After are marshalled
// to JSON so an administrator sees exactly what changed.
type AuditEntry struct {
	Action      string
	TargetType  string
	TargetID    string
	TargetLabel string
	Summary     string
	Before      any
	After       any
}

// AuditChange is one field that differs between before and after.
type AuditChange struct {
	Field  string
	Before string
	After  string
}

// Changes lists the top-level fields whose values differ, for display.
func (e *AuditEvent) Changes() []AuditChange {
	before, after := decodeFields(e.BeforeJSON), decodeFields(e.AfterJSON)
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]json.RawMessage{after, before} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	var out []AuditChange
	for _, k := range keys {
		b, a := displayJSON(before[k]), displayJSON(after[k])
		if b != a {
			out = append(out, AuditChange{Field: k, Before: b, After: a})
		}
	}
	return out
}

func decodeFields(s string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m) // a record that is not an object shows no field changes
	}
	return m
}

func displayJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		if len(list) == 0 {
			return "none"
		}
		return strings.Join(list, ", ")
	}
	return string(raw)
}

func marshalAudit(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode audit record: %w", err)
	}
	return string(b), nil
}

// recordAudit writes an audit entry; callers run it in the transaction of
// the change so a change is never without its record.
func (s *Store) recordAudit(ctx context.Context, actor Actor, e AuditEntry) error {
	before, err := marshalAudit(e.Before)
	if err != nil {
		return err
	}
	after, err := marshalAudit(e.After)
	if err != nil {
		return err
	}
	ev := AuditEvent{At: s.Now(), ActorID: actor.OperatorID, Actor: actor.Name, Action: e.Action,
		TargetType: e.TargetType, TargetID: e.TargetID, TargetLabel: e.TargetLabel, Summary: e.Summary,
		BeforeJSON: before, AfterJSON: after}
	if err := s.q(ctx).Create(&ev).Error; err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	return nil
}

// AuditQuery filters and pages the audit log, newest first.
type AuditQuery struct {
	Search     string
	Action     string
	TargetType string
	TargetID   string
	// Actor is the exact name of who made the changes.
	Actor string
	// From and Before bound the time of the changes: From included,
	// Before excluded; a zero time does not bound.
	From, Before time.Time
	PageRequest
}

// AuditActions lists the actions recorded so far, for the filter menu.
func (s *Store) AuditActions(ctx context.Context) ([]string, error) {
	var actions []string
	err := s.q(ctx).Model(&AuditEvent{}).Distinct("action").Order("action").Pluck("action", &actions).Error
	return actions, err
}

// MaxAuditActors bounds the actor filter menu.
const MaxAuditActors = 500

// AuditActors lists who made the changes recorded so far, for the filter
// menu.
func (s *Store) AuditActors(ctx context.Context) ([]string, error) {
	var actors []string
	err := s.q(ctx).Model(&AuditEvent{}).Distinct("actor").Order("actor").Limit(MaxAuditActors).Pluck("actor", &actors).Error
	if err != nil {
		return nil, fmt.Errorf("list audit actors: %w", err)
	}
	return actors, nil
}

// filter applies the query's search and filters.
func (q AuditQuery) filter(db *gorm.DB) *gorm.DB {
	db = matchAny(db, q.Search, "actor", "target_label", "summary")
	if q.Action != "" {
		db = db.Where("action = ?", q.Action)
	}
	if q.TargetType != "" {
		db = db.Where("target_type = ?", q.TargetType)
	}
	if q.TargetID != "" {
		db = db.Where("target_id = ?", q.TargetID)
	}
	if q.Actor != "" {
		db = db.Where("actor = ?", q.Actor)
	}
	if !q.From.IsZero() {
		db = db.Where("at >= ?", q.From.UTC())
	}
	if !q.Before.IsZero() {
		db = db.Where("at < ?", q.Before.UTC())
	}
	return db
}

// ListAudit returns one page of the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) (Page[*AuditEvent], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := q.filter(s.q(ctx).Model(&AuditEvent{}))
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*AuditEvent]{}, fmt.Errorf("count audit events: %w", err)
	}
	var events []*AuditEvent
	if err := db.Order("at DESC").Order("id DESC").Limit(q.PageSize).Offset(q.Offset()).Find(&events).Error; err != nil {
		return Page[*AuditEvent]{}, fmt.Errorf("list audit events: %w", err)
	}
	return NewPage(q.PageRequest, total, events), nil
}

// EachAudit calls fn with every event the query matches, newest recorded
// first, reading them in batches of the query's page size so that an
// export of the whole log holds one batch in memory at a time.
func (s *Store) EachAudit(ctx context.Context, q AuditQuery, fn func(*AuditEvent) error) error {
	q.PageRequest = q.PageRequest.Normalize()
	var after int64 // the last id seen; ids only grow, so the keyset is stable while the log grows
	for {
		db := q.filter(s.q(ctx).Model(&AuditEvent{}))
		if after > 0 {
			db = db.Where("id < ?", after)
		}
		var batch []*AuditEvent
		if err := db.Order("id DESC").Limit(q.PageSize).Find(&batch).Error; err != nil {
			return fmt.Errorf("read audit events: %w", err)
		}
		for _, ev := range batch {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(batch) < q.PageSize {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}
