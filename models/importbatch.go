package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

func gormExprCoalesce(column string, v any) any { return gorm.Expr("COALESCE("+column+", ?)", v) }

// ImportRow is a row of an import file that passed the reader's checks.
type ImportRow struct {
	Line      int64
	Email     string
	FirstName string
	LastName  string
	CRMID     string
	VisitorID string
	Raw       string // the cells as a JSON array, for the rejected-rows download
}

// importRow is the staging copy of a row while its import runs.
type importRow struct {
	ImportID    int64
	Line        int64
	Email       string
	FirstName   string
	LastName    string
	CRMID       string `gorm:"column:crm_id"`
	VisitorID   string
	Raw         string
	Status      string
	Reason      *string
	RecipientID *int64
	Changed     bool
}

func (importRow) TableName() string { return "import_rows" }

// BatchProgress is where the reader stands after a batch.
type BatchProgress struct {
	LastLine       int64
	ProcessedBytes int64
	RowsRead       int64
}

// BatchResult counts what one batch did.
type BatchResult struct {
	Created, Updated, Skipped, Rejected int64
}

// ApplyImportBatch applies one batch of rows atomically with the import's
// progress, so a resumed import continues exactly after the last batch it
// committed. Everything is set-based SQL over the staging table: a batch of
// thousands of rows costs a dozen statements, not one per row.
//
// Rows are matched with recipients by e-mail. A later row repeating an
// e-mail of the file, or giving a CRM ID that another e-mail already has, is
// rejected with its reason. Existing recipients are updated only when the
// import says so, and only with the cells the file fills: an empty cell
// leaves the stored value alone.
func (s *Store) ApplyImportBatch(ctx context.Context, importID int64, rows []ImportRow, rejected []ImportRejection, p BatchProgress) (BatchResult, error) {
	var res BatchResult
	err := s.Tx(ctx, func(tx *Store) error {
		imp, err := tx.ImportByID(ctx, importID)
		if err != nil {
			return err
		}
		if p.LastLine <= imp.LinesDone {
			return nil // already applied before a crash or a retry
		}
		settings, err := imp.Settings()
		if err != nil {
			return err
		}
		res, err = tx.applyBatch(ctx, imp, settings, rows, rejected)
		if err != nil {
			return err
		}
		return tx.q(ctx).Model(&RecipientImport{}).Where("id = ?", importID).Updates(map[string]any{
			"lines_done": p.LastLine, "processed_bytes": p.ProcessedBytes, "rows_read": gorm.Expr("rows_read + ?", p.RowsRead),
			"created_count": gorm.Expr("created_count + ?", res.Created), "updated_count": gorm.Expr("updated_count + ?", res.Updated),
			"skipped_count": gorm.Expr("skipped_count + ?", res.Skipped), "rejected_count": gorm.Expr("rejected_count + ?", res.Rejected),
		}).Error
	})
	return res, err
}

func (s *Store) applyBatch(ctx context.Context, imp *RecipientImport, settings ImportSettings, rows []ImportRow, rejected []ImportRejection) (BatchResult, error) {
	var res BatchResult
	id := imp.ID
	now := s.Now()
	for i := range rejected {
		rejected[i].ImportID = id
	}
	if len(rejected) > 0 {
		if err := s.q(ctx).CreateInBatches(rejected, 500).Error; err != nil {
			return res, fmt.Errorf("record rejected rows: %w", err)
		}
		res.Rejected += int64(len(rejected))
	}
	if len(rows) == 0 {
		return res, nil
	}
	staged := make([]importRow, len(rows))
	lo, hi := rows[0].Line, rows[0].Line
	for i, r := range rows {
		staged[i] = importRow{ImportID: id, Line: r.Line, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName,
			CRMID: r.CRMID, VisitorID: r.VisitorID, Raw: r.Raw, Status: "new"}
		lo, hi = min(lo, r.Line), max(hi, r.Line)
	}
	if err := s.q(ctx).CreateInBatches(staged, 500).Error; err != nil {
		return res, fmt.Errorf("stage rows: %w", err)
	}
	// Every statement below works on this batch's new rows only.
	const batch = `import_rows.import_id = ? AND import_rows.line BETWEEN ? AND ? AND import_rows.status = 'new'`
	exec := func(what, sql string, args ...any) (int64, error) {
		r := s.q(ctx).Exec(sql, args...)
		if r.Error != nil {
			return 0, fmt.Errorf("import batch: %s: %w", what, r.Error)
		}
		return r.RowsAffected, nil
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"duplicate e-mails", `UPDATE import_rows SET status = 'rejected',
			reason = 'email: duplicate of line ' || (SELECT MIN(p.line) FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.email = import_rows.email AND p.line < import_rows.line) || ', which is the one imported'
			WHERE ` + batch + ` AND EXISTS (SELECT 1 FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.email = import_rows.email AND p.line < import_rows.line)`, nil},
		{"existing recipients", `UPDATE import_rows SET recipient_id = (SELECT r.id FROM recipients r WHERE r.email = import_rows.email) WHERE ` + batch, nil},
	}
	if !settings.UpdateExisting {
		steps = append(steps, struct {
			what string
			sql  string
			args []any
		}{"keep existing recipients", `UPDATE import_rows SET status = 'skipped' WHERE ` + batch + ` AND recipient_id IS NOT NULL`, nil})
	}
	steps = append(steps, []struct {
		what string
		sql  string
		args []any
	}{
		{"CRM IDs repeated in the file", `UPDATE import_rows SET status = 'rejected',
			reason = 'crmId: line ' || (SELECT MIN(p.line) FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.crm_id = import_rows.crm_id AND p.line < import_rows.line AND p.status <> 'rejected' AND p.email <> import_rows.email) || ' gives this CRM ID to another e-mail'
			WHERE ` + batch + ` AND crm_id <> '' AND EXISTS (SELECT 1 FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.crm_id = import_rows.crm_id
				AND p.line < import_rows.line AND p.status <> 'rejected' AND p.email <> import_rows.email)`, nil},
		{"CRM IDs of other recipients", `UPDATE import_rows SET status = 'rejected',
			reason = 'crmId: this CRM ID already belongs to ' || (SELECT r.email FROM recipients r WHERE r.crm_id = import_rows.crm_id)
			WHERE ` + batch + ` AND crm_id <> '' AND EXISTS (SELECT 1 FROM recipients r WHERE r.crm_id = import_rows.crm_id AND r.email <> import_rows.email)`, nil},
		{"rejections", `INSERT INTO import_rejections (import_id, line, reason, raw)
			SELECT import_id, line, reason, raw FROM import_rows WHERE import_id = ? AND line BETWEEN ? AND ? AND status = 'rejected'`, nil},
	}...)
	for _, st := range steps {
		args := append([]any{id, lo, hi}, st.args...)
		n, err := exec(st.what, st.sql, args...)
		if err != nil {
			return res, err
		}
		if st.what == "rejections" {
			res.Rejected += n
		}
		if st.what == "keep existing recipients" {
			res.Skipped += n
		}
	}
	if settings.UpdateExisting {
		if _, err := exec("changed recipients", `UPDATE import_rows SET changed = TRUE WHERE `+batch+` AND recipient_id IS NOT NULL AND (
			EXISTS (SELECT 1 FROM recipients r WHERE r.id = import_rows.recipient_id AND (
				(import_rows.first_name <> '' AND import_rows.first_name <> r.first_name) OR
				(import_rows.last_name <> '' AND import_rows.last_name <> r.last_name) OR
				(import_rows.crm_id <> '' AND (r.crm_id IS NULL OR r.crm_id <> import_rows.crm_id))))
			OR (import_rows.visitor_id <> '' AND NOT EXISTS (SELECT 1 FROM recipient_visitor_ids v
				WHERE v.recipient_id = import_rows.recipient_id AND v.visitor_id = import_rows.visitor_id)))`, id, lo, hi); err != nil {
			return res, err
		}
		var counts struct{ Changed, Unchanged int64 }
		if err := s.q(ctx).Raw(`SELECT COALESCE(SUM(CASE WHEN changed THEN 1 ELSE 0 END), 0) AS changed,
			COALESCE(SUM(CASE WHEN changed THEN 0 ELSE 1 END), 0) AS unchanged
			FROM import_rows WHERE `+batch+` AND recipient_id IS NOT NULL`, id, lo, hi).Scan(&counts).Error; err != nil {
			return res, fmt.Errorf("import batch: count updates: %w", err)
		}
		res.Updated, res.Skipped = res.Updated+counts.Changed, res.Skipped+counts.Unchanged
		if _, err := exec("update recipients", `UPDATE recipients SET
			first_name = CASE WHEN s.first_name <> '' THEN s.first_name ELSE recipients.first_name END,
			last_name = CASE WHEN s.last_name <> '' THEN s.last_name ELSE recipients.last_name END,
			crm_id = CASE WHEN s.crm_id <> '' THEN s.crm_id ELSE recipients.crm_id END,
			updated_at = ?
			FROM import_rows s WHERE s.import_id = ? AND s.line BETWEEN ? AND ? AND s.status = 'new' AND s.changed AND s.recipient_id = recipients.id`,
			now, id, lo, hi); err != nil {
			return res, err
		}
	}
	created, err := exec("create recipients", `INSERT INTO recipients (email, first_name, last_name, crm_id, created_at, updated_at)
		SELECT email, first_name, last_name, NULLIF(crm_id, ''), ?, ? FROM import_rows WHERE `+batch+` AND recipient_id IS NULL ORDER BY line`,
		now, now, id, lo, hi)
	if err != nil {
		return res, err
	}
	res.Created = created
	if _, err := exec("link created recipients", `UPDATE import_rows SET recipient_id = (SELECT r.id FROM recipients r WHERE r.email = import_rows.email)
		WHERE `+batch+` AND recipient_id IS NULL`, id, lo, hi); err != nil {
		return res, err
	}
	if _, err := exec("visitor IDs", `INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at)
		SELECT recipient_id, visitor_id, ? FROM import_rows WHERE `+batch+` AND visitor_id <> ''
		ON CONFLICT DO NOTHING`, now, id, lo, hi); err != nil {
		return res, err
	}
	if imp.ListID != nil {
		if _, err := exec("list members", `INSERT INTO list_members (list_id, recipient_id, added_at)
			SELECT ?, recipient_id, ? FROM import_rows WHERE import_id = ? AND line BETWEEN ? AND ? AND status IN ('new', 'skipped') AND recipient_id IS NOT NULL
			ON CONFLICT DO NOTHING`, *imp.ListID, now, id, lo, hi); err != nil {
			return res, err
		}
	}
	if _, err := exec("finish rows", `UPDATE import_rows SET status = 'done' WHERE `+batch, id, lo, hi); err != nil {
		return res, err
	}
	return res, nil
}
