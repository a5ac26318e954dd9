package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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
	err := s.importTx(ctx, func(tx *Store) error {
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

// importPragmas tune an SQLite connection for the transaction of a batch,
// which writes thousands of pages: its statement journals (every INSERT
// ... SELECT into a table with a foreign key has one) stay in memory rather
// than in temporary files, and the WAL is checkpointed into the database
// after every few batches rather than after each, so that a page that every
// batch changes (the random inserts into the e-mail indexes) is written to
// the database once for several batches, with one fsync.
var importPragmas = []struct{ name, value string }{
	{"temp_store", "MEMORY"},
	{"wal_autocheckpoint", "20000"}, // pages: about 80 MB of WAL
}

// importTx is Tx for a batch: on SQLite it runs fn on a connection with
// importPragmas set, and sets them back afterwards.
func (s *Store) importTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.dialect != SQLite || s.inTx {
		return s.Tx(ctx, fn)
	}
	return s.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		conn = conn.WithContext(ctx) // a new statement for every call below
		was := make([]string, len(importPragmas))
		for i, p := range importPragmas {
			// The values come from the table above, never from outside.
			if err := conn.Raw("PRAGMA " + p.name).Scan(&was[i]).Error; err != nil {
				return fmt.Errorf("read PRAGMA %s: %w", p.name, err)
			}
			if err := conn.Exec("PRAGMA " + p.name + " = " + p.value).Error; err != nil {
				return fmt.Errorf("set PRAGMA %s: %w", p.name, err)
			}
		}
		err := (&Store{db: conn, dialect: s.dialect, Now: s.Now}).Tx(ctx, fn)
		for i, p := range importPragmas {
			if rerr := conn.Exec("PRAGMA " + p.name + " = " + was[i]).Error; rerr != nil {
				err = errors.Join(err, fmt.Errorf("restore PRAGMA %s: %w", p.name, rerr))
			}
		}
		return err
	})
}

func (s *Store) applyBatch(ctx context.Context, imp *RecipientImport, settings ImportSettings, rows []ImportRow, rejected []ImportRejection) (BatchResult, error) {
	var res BatchResult
	id := imp.ID
	now := s.Now()
	if len(rejected) > 0 {
		err := s.bulkInsert(ctx, "import_rejections", rejectionColumns, len(rejected), func(i int, v []any) {
			v[0], v[1], v[2], v[3] = id, rejected[i].Line, rejected[i].Reason, rejected[i].Raw
		})
		if err != nil {
			return res, fmt.Errorf("record rejected rows: %w", err)
		}
		res.Rejected += int64(len(rejected))
	}
	if len(rows) == 0 {
		return res, nil
	}
	lo, hi := rows[0].Line, rows[0].Line
	for _, r := range rows {
		lo, hi = min(lo, r.Line), max(hi, r.Line)
	}
	known, err := s.recipientIDs(ctx, rows)
	if err != nil {
		return res, err
	}
	// Each row is staged with the recipient its e-mail names, if any, so
	// that no statement below looks recipients up by e-mail again. The raw
	// cells are not staged: only the few rows rejected below need them,
	// and they are at hand in rows.
	err = s.bulkInsert(ctx, "import_rows", stagingColumns, len(rows), func(i int, v []any) {
		r := &rows[i]
		var rid any // NULL: a new recipient
		if recipient, ok := known[r.Email]; ok {
			rid = recipient
		}
		v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8] = id, r.Line, r.Email, r.FirstName, r.LastName, r.CRMID, r.VisitorID, "", rid
	})
	if err != nil {
		return res, fmt.Errorf("stage rows: %w", err)
	}
	exec := func(what, sql string, args ...any) (int64, error) {
		r := s.q(ctx).Exec(sql, args...)
		if r.Error != nil {
			return 0, fmt.Errorf("import batch: %s: %w", what, r.Error)
		}
		return r.RowsAffected, nil
	}
	// Every statement below works on this batch's rows that are still to
	// apply ('new'); a row of the batch is rejected or skipped by changing
	// its status, so the statements after leave it alone. The lookups are
	// scalar subqueries over unique or leading-column indexes: a few
	// thousand index probes per batch whatever the size of the tables.
	const batch = `import_rows.import_id = ? AND import_rows.line BETWEEN ? AND ? AND import_rows.status = 'new'`
	if _, err := exec("duplicate e-mails", `UPDATE import_rows SET status = 'rejected',
		reason = 'email: duplicate of line ' || (SELECT MIN(p.line) FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.email = import_rows.email) || ', which is the one imported'
		WHERE `+batch+` AND (SELECT MIN(p.line) FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.email = import_rows.email) < import_rows.line`,
		id, lo, hi); err != nil {
		return res, err
	}
	if !settings.UpdateExisting {
		// Before the CRM ID checks: a recipient left alone keeps its CRM ID.
		n, err := exec("keep existing recipients", `UPDATE import_rows SET status = 'skipped' WHERE `+batch+` AND recipient_id IS NOT NULL`, id, lo, hi)
		if err != nil {
			return res, err
		}
		res.Skipped += n
	}
	// A CRM ID is taken by an earlier row only if that row is imported: not
	// a rejected one, nor one of a recipient left alone (skipped).
	const earlierHolder = `(SELECT MIN(p.line) FROM import_rows p WHERE p.import_id = import_rows.import_id AND p.crm_id = import_rows.crm_id
		AND p.line < import_rows.line AND p.status NOT IN ('rejected', 'skipped') AND p.email <> import_rows.email)`
	if _, err := exec("CRM IDs repeated in the file", `UPDATE import_rows SET status = 'rejected',
		reason = 'crmId: line ' || `+earlierHolder+` || ' gives this CRM ID to another e-mail'
		WHERE `+batch+` AND crm_id <> '' AND `+earlierHolder+` IS NOT NULL`, id, lo, hi); err != nil {
		return res, err
	}
	const otherHolder = `(SELECT r.email FROM recipients r WHERE r.crm_id = import_rows.crm_id)`
	if _, err := exec("CRM IDs of other recipients", `UPDATE import_rows SET status = 'rejected',
		reason = 'crmId: this CRM ID already belongs to ' || `+otherHolder+`
		WHERE `+batch+` AND crm_id <> '' AND `+otherHolder+` <> import_rows.email`, id, lo, hi); err != nil {
		return res, err
	}
	n, err := s.recordRejections(ctx, id, lo, hi, rows)
	if err != nil {
		return res, err
	}
	res.Rejected += n
	if settings.UpdateExisting {
		var existing int64
		if err := s.q(ctx).Raw(`SELECT COUNT(*) FROM import_rows WHERE `+batch+` AND recipient_id IS NOT NULL`, id, lo, hi).
			Scan(&existing).Error; err != nil {
			return res, fmt.Errorf("import batch: count existing recipients: %w", err)
		}
		// An existing recipient is updated when the file changes one of
		// its values or brings a visitor ID it does not have yet; the
		// others are counted as skipped. No two rows of the batch name the
		// same recipient: repeated e-mails were rejected above.
		updated, err := exec("update recipients", `UPDATE recipients SET
			first_name = CASE WHEN s.first_name <> '' THEN s.first_name ELSE recipients.first_name END,
			last_name = CASE WHEN s.last_name <> '' THEN s.last_name ELSE recipients.last_name END,
			crm_id = CASE WHEN s.crm_id <> '' THEN s.crm_id ELSE recipients.crm_id END,
			updated_at = ?
			FROM import_rows s WHERE s.import_id = ? AND s.line BETWEEN ? AND ? AND s.status = 'new' AND s.recipient_id = recipients.id AND (
				(s.first_name <> '' AND s.first_name <> recipients.first_name) OR
				(s.last_name <> '' AND s.last_name <> recipients.last_name) OR
				(s.crm_id <> '' AND (recipients.crm_id IS NULL OR recipients.crm_id <> s.crm_id)) OR
				(s.visitor_id <> '' AND NOT EXISTS (SELECT 1 FROM recipient_visitor_ids v WHERE v.recipient_id = recipients.id AND v.visitor_id = s.visitor_id)))`,
			now, id, lo, hi)
		if err != nil {
			return res, err
		}
		res.Updated, res.Skipped = res.Updated+updated, res.Skipped+existing-updated
	}
	created, err := exec("create recipients", `INSERT INTO recipients (email, first_name, last_name, crm_id, created_at, updated_at)
		SELECT email, first_name, last_name, NULLIF(crm_id, ''), ?, ? FROM import_rows WHERE `+batch+` AND recipient_id IS NULL ORDER BY line`,
		now, now, id, lo, hi)
	if err != nil {
		return res, err
	}
	res.Created = created
	// The recipients just created are the rows staged without one.
	const recipientOf = `COALESCE(import_rows.recipient_id, (SELECT r.id FROM recipients r WHERE r.email = import_rows.email))`
	if _, err := exec("visitor IDs", `INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at)
		SELECT `+recipientOf+`, visitor_id, ? FROM import_rows WHERE `+batch+` AND visitor_id <> ''
		ON CONFLICT DO NOTHING`, now, id, lo, hi); err != nil {
		return res, err
	}
	if imp.ListID != nil {
		if _, err := exec("list members", `INSERT INTO list_members (list_id, recipient_id, added_at)
			SELECT ?, `+recipientOf+`, ? FROM import_rows WHERE import_id = ? AND line BETWEEN ? AND ? AND status IN ('new', 'skipped')
			ON CONFLICT DO NOTHING`, *imp.ListID, now, id, lo, hi); err != nil {
			return res, err
		}
	}
	return res, nil
}

// lookupChunk is how many e-mails one query of recipientIDs asks for on
// SQLite, where each is a bound value.
const lookupChunk = 1000

// recipientIDs returns the IDs of the recipients that the rows' e-mails
// name, by e-mail: one query of the batch's e-mails as an array on
// PostgreSQL, a few IN lists on SQLite.
func (s *Store) recipientIDs(ctx context.Context, rows []ImportRow) (map[string]int64, error) {
	ids := make(map[string]int64, len(rows))
	var (
		id    int64
		email string
	)
	if s.pgTx != nil {
		emails := make([]string, len(rows))
		for i, r := range rows {
			emails[i] = r.Email
		}
		rs, err := s.pgTx.Query(ctx, `SELECT id, email FROM recipients WHERE email = ANY($1)`, emails)
		if err != nil {
			return nil, fmt.Errorf("import batch: existing recipients: %w", err)
		}
		_, err = pgx.ForEachRow(rs, []any{&id, &email}, func() error {
			ids[email] = id
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("import batch: existing recipients: %w", err)
		}
		return ids, nil
	}
	pool := s.q(ctx).Statement.ConnPool
	args := make([]any, 0, min(len(rows), lookupChunk))
	for start := 0; start < len(rows); start += lookupChunk {
		args = args[:0]
		for _, r := range rows[start:min(start+lookupChunk, len(rows))] {
			args = append(args, r.Email)
		}
		if err := func() error {
			rs, err := pool.QueryContext(ctx, `SELECT id, email FROM recipients WHERE email IN (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				if err := rs.Scan(&id, &email); err != nil {
					return err
				}
				ids[email] = id
			}
			return rs.Err()
		}(); err != nil {
			return nil, fmt.Errorf("import batch: existing recipients: %w", err)
		}
	}
	return ids, nil
}

var (
	stagingColumns   = []string{"import_id", "line", "email", "first_name", "last_name", "crm_id", "visitor_id", "raw", "recipient_id"}
	rejectionColumns = []string{"import_id", "line", "reason", "raw"}
)

// recordRejections copies the batch's rows that the statements rejected to
// import_rejections, with their raw cells from rows.
func (s *Store) recordRejections(ctx context.Context, importID, lo, hi int64, rows []ImportRow) (int64, error) {
	var found []ImportRejection
	if err := s.q(ctx).Raw(`SELECT line, reason FROM import_rows WHERE import_id = ? AND line BETWEEN ? AND ? AND status = 'rejected' ORDER BY line`,
		importID, lo, hi).Scan(&found).Error; err != nil {
		return 0, fmt.Errorf("import batch: rejected rows: %w", err)
	}
	if len(found) == 0 {
		return 0, nil
	}
	raw := make(map[int64]string, len(found))
	for _, f := range found {
		raw[f.Line] = ""
	}
	for _, r := range rows {
		if _, ok := raw[r.Line]; ok {
			raw[r.Line] = r.Raw
		}
	}
	err := s.bulkInsert(ctx, "import_rejections", rejectionColumns, len(found), func(i int, v []any) {
		v[0], v[1], v[2], v[3] = importID, found[i].Line, found[i].Reason, raw[found[i].Line]
	})
	if err != nil {
		return 0, fmt.Errorf("import batch: record rejections: %w", err)
	}
	return int64(len(found)), nil
}

// insertChunk is how many rows one INSERT statement of bulkInsert carries
// on SQLite: enough that the per-statement cost vanishes, few enough that
// the statement stays far below SQLite's limit on bound values.
const insertChunk = 256

// bulkInsert inserts n rows into table, row filling the values of the i-th
// row in column order into a slice that is reused. PostgreSQL receives them
// with COPY; SQLite with multi-row INSERT statements prepared once per call.
// Either is a small fraction of the cost of an ORM insert of the same rows,
// which builds its statement by reflection for every batch.
func (s *Store) bulkInsert(ctx context.Context, table string, columns []string, n int, row func(i int, values []any)) (err error) {
	if n == 0 {
		return nil
	}
	if s.pgTx != nil {
		values := make([]any, len(columns))
		_, err := s.pgTx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			row(i, values)
			return values, nil
		}))
		return err
	}
	pool := s.q(ctx).Statement.ConnPool
	insert := func(rows int) string {
		one := "(" + strings.Repeat("?, ", len(columns)-1) + "?)"
		return "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES " + strings.Repeat(one+", ", rows-1) + one
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			err = errors.Join(err, full.Close())
		}
	}()
	args := make([]any, 0, min(n, insertChunk)*len(columns))
	for start := 0; start < n; start += insertChunk {
		end := min(start+insertChunk, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = args[:len(args)+len(columns)]
			row(i, args[len(args)-len(columns):])
		}
		if end-start < insertChunk { // the last rows
			_, err := pool.ExecContext(ctx, insert(end-start), args...)
			return err
		}
		if full == nil {
			if full, err = pool.PrepareContext(ctx, insert(insertChunk)); err != nil {
				return err
			}
		}
		if _, err := full.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}
