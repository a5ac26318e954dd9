package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"audiencebridge/identity"
)

// ExportPlan is what an export run sends: the recipients its conditions
// target, as identifiers of its data source's rule.
type ExportPlan struct {
	RunID      int64
	Conditions Conditions
	Rule       identity.Rule
}

// ExportBatchSize is the width of the recipient-id range one batch covers:
// each batch commits on its own with the run's resume point, so a crash
// costs at most one batch and never counts twice.
const ExportBatchSize = 50_000

// MaxRecipientID bounds the ranges an export walks through.
func (s *Store) MaxRecipientID(ctx context.Context) (int64, error) {
	var n int64
	if err := s.q(ctx).Model(&Recipient{}).Select("COALESCE(MAX(id), 0)").Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("find the last recipient: %w", err)
	}
	return n, nil
}

// hashSQL is the SQL of a declared ID as it travels under a SHA-256 rule:
// the hash of the trimmed, lower-cased value (identity.SHA256Hex).
func (s *Store) hashSQL(expr string) string {
	if s.dialect == Postgres {
		return "encode(sha256(convert_to(lower(btrim(" + expr + ")), 'UTF8')), 'hex')"
	}
	return "ab_sha256(" + expr + ")"
}

// identifiers is the SQL of (rid, ident) pairs of the recipients in the
// subquery (?), under the rule: what identity.Rule.ForRecipient gives, in
// set-based SQL. A value that cannot travel (a declared ID with ":") is left
// out, as ForRecipient leaves it.
func (s *Store) identifiers(rule identity.Rule) string { return s.identifiersWhere(rule, "IN (?)") }

// identifiersWhere is identifiers with the recipients chosen by the test
// in applied to the recipient id (such as "IN (?)" or "BETWEEN ? AND ?").
func (s *Store) identifiersWhere(rule identity.Rule, in string) string {
	var col string
	switch rule.Key {
	case identity.KeyVisitorID:
		return "SELECT v.recipient_id AS rid, v.visitor_id AS ident FROM recipient_visitor_ids v WHERE v.recipient_id " + in
	case identity.KeyCRMID:
		col = "r.crm_id"
	case identity.KeyEmail:
		col = "r.email"
	default:
		col = "CAST(r.id AS TEXT)"
	}
	ident := "TRIM(" + col + ")"
	if rule.Hash == identity.HashSHA256 {
		ident = s.hashSQL(col)
	}
	return "SELECT r.id AS rid, " + ident + " AS ident FROM recipients r WHERE r.id " + in + " AND " + col + " IS NOT NULL AND TRIM(" + col + ") <> '' AND " +
		col + " NOT LIKE '%:%'"
}

// hasIdentifier is the SQL test that a recipient (alias) has an identifier
// under the rule, as identifiers selects them.
func (s *Store) hasIdentifier(rule identity.Rule, alias string) string {
	var col string
	switch rule.Key {
	case identity.KeyVisitorID:
		return "EXISTS (SELECT 1 FROM recipient_visitor_ids v WHERE v.recipient_id = " + alias + ".id)"
	case identity.KeyCRMID:
		col = alias + ".crm_id"
	case identity.KeyEmail:
		col = alias + ".email"
	default:
		return "(" + alias + ".id > 0)"
	}
	return "(" + col + " IS NOT NULL AND TRIM(" + col + ") <> '' AND " + col + " NOT LIKE '%:%')"
}

// batchTargets is the subquery of the targeted recipients with an id in
// (lo, hi].
func (s *Store) batchTargets(ctx context.Context, c Conditions, lo, hi int64) *gorm.DB {
	return s.TargetQuery(ctx, c).Select("recipients.id").Where("recipients.id > ? AND recipients.id <= ?", lo, hi)
}

// batchIn is the test on a recipient id that it is a targeted recipient
// of (lo, hi], and its arguments: without conditions every recipient is
// targeted, and a plain range lets the planners walk the tables' keys in
// order instead of probing them with each id of a subquery.
func (s *Store) batchIn(ctx context.Context, c Conditions, lo, hi int64) (string, []any) {
	if len(c) == 0 {
		return "BETWEEN ? AND ?", []any{lo + 1, hi}
	}
	return "IN (?)", []any{s.batchTargets(ctx, c, lo, hi)}
}

// ExportIdentifiers returns the distinct identifiers of a batch, for a
// remote library.
func (s *Store) ExportIdentifiers(ctx context.Context, plan ExportPlan, lo, hi int64) ([]string, error) {
	var out []string
	err := s.q(ctx).Raw("SELECT DISTINCT x.ident FROM ("+s.identifiers(plan.Rule)+") x ORDER BY x.ident", s.batchTargets(ctx, plan.Conditions, lo, hi)).
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read the identifiers to export: %w", err)
	}
	return out, nil
}

// ExportBatchCounts are what one batch did.
type ExportBatchCounts struct {
	Targeted, Exported, Complement, Added int64
}

// ExportBatch records a batch of an export run in one transaction: the
// targeted recipients with an identifier go to Result, the others to
// Complement, and the run moves its resume point to hi. With sid > 0 the
// identifiers are added to that embedded segment in the same transaction
// (existing members are kept as they are: no duplicate, nothing removed);
// added is then what the segment gained, otherwise the caller's figure
// from a remote library. ErrRunLost means the run is no longer running.
func (s *Store) ExportBatch(ctx context.Context, plan ExportPlan, sid, lo, hi, remoteAdded int64) (ExportBatchCounts, error) {
	var c ExportBatchCounts
	err := s.Tx(ctx, func(tx *Store) error {
		in, inArgs := tx.batchIn(ctx, plan.Conditions, lo, hi)
		if sid > 0 {
			// In the members' order: each page of the segment's key is
			// then written once per batch, not once per identifier.
			res := tx.q(ctx).Exec("INSERT INTO lib_members (segment_id, member) SELECT ?, x.ident FROM ("+tx.identifiersWhere(plan.Rule, in)+") x ORDER BY x.ident ON CONFLICT DO NOTHING",
				append([]any{sid}, inArgs...)...)
			if res.Error != nil {
				return fmt.Errorf("add the identifiers to the audience: %w", res.Error)
			}
			c.Added = res.RowsAffected
		} else {
			c.Added = remoteAdded
		}
		counts, err := tx.recordTransitions(ctx, plan, lo, hi, in, inArgs)
		if err != nil {
			return err
		}
		c.Targeted, c.Exported = counts.Targeted, counts.Exported
		c.Complement = c.Targeted - c.Exported
		now := tx.Now()
		res := tx.q(ctx).Model(&Run{}).Where("id = ? AND status = ?", plan.RunID, RunRunning).Updates(map[string]any{
			"received": gorm.Expr("received + ?", c.Targeted), "exported": gorm.Expr("exported + ?", c.Exported),
			"complement": gorm.Expr("complement + ?", c.Complement), "added": gorm.Expr("added + ?", c.Added),
			"resume_after": hi, "progress_done": hi, "heartbeat_at": now})
		if res.Error != nil {
			return fmt.Errorf("record the batch: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrRunLost
		}
		return nil
	})
	return c, err
}

// recordTransitions stores a batch's transitions as bitmaps: its targeted
// recipients, and those of them with an identifier (Result). Both come
// from the databases as lists of offsets, one string each, which costs a
// fraction of writing a row per recipient.
func (s *Store) recordTransitions(ctx context.Context, plan ExportPlan, lo, hi int64, in string, inArgs []any) (ExportBatchCounts, error) {
	var lists struct{ Targeted, Result string }
	q := "SELECT (SELECT " + s.offsetsAgg("r.id - ?") + " FROM recipients r WHERE r.id " + in + ") AS targeted, " +
		"(SELECT " + s.offsetsAgg("x.rid - ?") + " FROM (" + s.identifiersWhere(plan.Rule, in) + ") x) AS result"
	// Offset 0 is recipient lo+1.
	args := append(append(append([]any{lo + 1}, inArgs...), lo+1), inArgs...)
	if err := s.q(ctx).Raw(q, args...).Scan(&lists).Error; err != nil {
		return ExportBatchCounts{}, fmt.Errorf("find the transitions: %w", err)
	}
	t := runTransition{RunID: plan.RunID, Lo: lo, Hi: hi, Targeted: newIDBitmap(lo, hi), Result: newIDBitmap(lo, hi)}
	if err := idBitmap(t.Targeted).setOffsets(lists.Targeted, hi-lo); err != nil {
		return ExportBatchCounts{}, fmt.Errorf("find the transitions: %w", err)
	}
	if err := idBitmap(t.Result).setOffsets(lists.Result, hi-lo); err != nil {
		return ExportBatchCounts{}, fmt.Errorf("find the transitions: %w", err)
	}
	idBitmap(t.Result).and(t.Targeted)
	c := ExportBatchCounts{Targeted: idBitmap(t.Targeted).count(), Exported: idBitmap(t.Result).count()}
	if c.Targeted == 0 {
		return c, nil // nothing to keep: a missing batch is an empty one
	}
	if err := s.q(ctx).Create(&t).Error; err != nil {
		return ExportBatchCounts{}, fmt.Errorf("record the transitions: %w", err)
	}
	return c, nil
}

// StartExport prepares a claimed run: the range to walk, and a fresh start
// (no transitions) unless it resumes.
func (s *Store) StartExport(ctx context.Context, runID, sid, maxID int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		var r Run
		if err := tx.q(ctx).First(&r, runID).Error; err != nil {
			return notFound(err, fmt.Sprintf("run #%d", runID))
		}
		if r.ResumeAfter == 0 {
			if err := tx.q(ctx).Where("run_id = ?", runID).Delete(&runTransition{}).Error; err != nil {
				return fmt.Errorf("start the export: %w", err)
			}
		}
		return tx.q(ctx).Model(&Run{}).Where("id = ?", runID).Updates(map[string]any{"segment_id": sid, "progress_total": maxID, "phase": "Exporting"}).Error
	})
}

// FinishExport ends an export run as succeeded: the embedded segment (sid >
// 0) gets its new size and stops "collecting data", the workflow plans its
// next run, and the transitions of older runs are dropped (the last
// five runs keep theirs).
func (s *Store) FinishExport(ctx context.Context, runID, workflowID, sid int64) (*Run, error) {
	var out *Run
	err := s.Tx(ctx, func(tx *Store) error {
		if sid > 0 {
			var res MemberCounts
			if err := tx.afterMemberChange(ctx, sid, &res); err != nil {
				return err
			}
			if err := tx.q(ctx).Model(&Run{}).Where("id = ?", runID).Update("list_size", res.Size).Error; err != nil {
				return fmt.Errorf("end the run: %w", err)
			}
		}
		now := tx.Now()
		res := tx.q(ctx).Model(&Run{}).Where("id = ? AND status = ?", runID, RunRunning).Updates(map[string]any{"status": RunSucceeded,
			"finished_at": now, "heartbeat_at": now, "phase": "Done", "progress_done": gorm.Expr("progress_total"), "error": ""})
		if res.Error != nil {
			return fmt.Errorf("end the run: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrRunLost
		}
		if err := tx.PlanNextWorkflowRun(ctx, workflowID); err != nil {
			return err
		}
		if err := tx.q(ctx).Exec(`DELETE FROM run_transitions WHERE run_id IN (SELECT id FROM sync_runs WHERE workflow_id = ? AND id NOT IN
			(SELECT id FROM sync_runs WHERE workflow_id = ? ORDER BY id DESC LIMIT 5))`, workflowID, workflowID).Error; err != nil {
			return fmt.Errorf("drop old transitions: %w", err)
		}
		var err error
		out, err = tx.RunByID(ctx, runID)
		return err
	})
	return out, err
}

// SetWorkflowSegment records the audience a workflow's first run created.
func (s *Store) SetWorkflowSegment(ctx context.Context, workflowID, sid int64, name string) error {
	err := s.q(ctx).Model(&Workflow{}).Where("id = ?", workflowID).
		Updates(map[string]any{"segment_id": sid, "segment_name": name, "new_segment_name": ""}).Error
	if err != nil {
		return fmt.Errorf("record the new audience: %w", err)
	}
	return nil
}

// ExportPreview counts what a run would send now: targeted recipients with
// an identifier (Result) and without (Complement).
func (s *Store) ExportPreview(ctx context.Context, c Conditions, rule identity.Rule) (result, complement int64, err error) {
	if err := s.ValidateConditions(ctx, c); err != nil {
		return 0, 0, err
	}
	targets := s.TargetQuery(ctx, c).Select("recipients.id")
	var counts struct{ Targeted, Result int64 }
	err = s.q(ctx).Raw("SELECT (SELECT COUNT(*) FROM (?) t) AS targeted, (SELECT COUNT(DISTINCT x.rid) FROM ("+s.identifiers(rule)+") x) AS result",
		targets, s.TargetQuery(ctx, c).Select("recipients.id")).Scan(&counts).Error
	if err != nil {
		return 0, 0, fmt.Errorf("preview the export: %w", err)
	}
	return counts.Result, counts.Targeted - counts.Result, nil
}

// TransitionRecipients returns a batch of a transition's recipients after
// an id, for a CSV download. A recipient deleted since the run is left out.
func (s *Store) TransitionRecipients(ctx context.Context, runID int64, result bool, after int64, limit int) ([]*Recipient, error) {
	for {
		ids, err := s.TransitionIDs(ctx, runID, result, after, limit)
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		var out []*Recipient
		if err := s.q(ctx).Where("id IN ?", ids).Order("id").Find(&out).Error; err != nil {
			return nil, fmt.Errorf("read the transition: %w", err)
		}
		if len(out) > 0 {
			return out, nil
		}
		after = ids[len(ids)-1] // every one of them was deleted: read on
	}
}

// SaveTransitionAsList stores a transition's recipients as a new regular
// list.
func (s *Store) SaveTransitionAsList(ctx context.Context, actor Actor, runID int64, result bool, in ListInput) (*List, error) {
	var out *List
	err := s.Tx(ctx, func(tx *Store) error {
		l, err := tx.CreateList(ctx, actor, in)
		if err != nil {
			return err
		}
		now := tx.Now()
		for after := int64(0); ; {
			ids, err := tx.TransitionIDs(ctx, runID, result, after, ExportBatchSize)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			if err := tx.q(ctx).Exec("INSERT INTO list_members (list_id, recipient_id, added_at) SELECT ?, r.id, ? FROM recipients r WHERE r.id IN ("+tx.idsFromJSON()+")",
				l.ID, now, idsJSON(ids)).Error; err != nil {
				return fmt.Errorf("fill the list: %w", err)
			}
			after = ids[len(ids)-1]
		}
		if err := tx.refreshListSize(ctx, l.ID); err != nil {
			return err
		}
		out, err = tx.ListByID(ctx, l.ID)
		return err
	})
	return out, err
}
