package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"audiencebridge/identity"
)

// ImportStage is where an import run collects a segment's members before
// they replace a list's content: temporary tables on a connection of its
// own, so staging a million identifiers writes no journal and holds no lock
// on the list until the one short transaction that swaps the content.
//
// Members arrive with Add; Reconcile joins them with the recipients through
// the data source's reconciliation key, all in set-based SQL; Replace swaps
// the list's members and ends the run in one transaction. Close drops the
// tables. A preview stops after Reconcile.
type ImportStage struct {
	store   *Store
	conn    *sql.Conn
	rule    identity.Rule
	dialect Dialect
	insert  map[int]*sql.Stmt

	// Counted as members arrive.
	received, malformed, hashMismatch int64
	sample                            []Unrecognized
	// Set by Reconcile.
	staged, reconciled, unhashedLooking int64
	recipients                          int64
}

// stageInsertRows is how many identifiers one INSERT carries.
const stageInsertRows = 500

// OpenImportStage prepares the temporary tables of one run or preview.
func (s *Store) OpenImportStage(ctx context.Context, rule identity.Rule) (*ImportStage, error) {
	if err := rule.Validate(); err != nil {
		return nil, fmt.Errorf("the data source cannot reconcile: %w", err)
	}
	db, err := s.SQL()
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open a connection for the sync: %w", err)
	}
	st := &ImportStage{store: s, conn: conn, rule: rule, dialect: s.dialect, insert: map[int]*sql.Stmt{}}
	ddl := []string{
		// A connection from the pool may carry the tables of a stage that
		// could not clean up.
		"DROP TABLE IF EXISTS ab_stage",
		"DROP TABLE IF EXISTS ab_rows",
		"DROP TABLE IF EXISTS ab_match",
		"DROP TABLE IF EXISTS ab_keys",
	}
	if s.dialect == SQLite {
		ddl = append(ddl,
			// One b-tree per table, keyed as it is read: members arrive in
			// identifier order, so staging them appends; an INTEGER PRIMARY
			// KEY is the rowid itself, not a second index beside it.
			"CREATE TEMP TABLE ab_stage (identifier TEXT PRIMARY KEY) WITHOUT ROWID",
			"CREATE TEMP TABLE ab_match (recipient_id INTEGER PRIMARY KEY)",
			"CREATE TEMP TABLE ab_rows (row_id INTEGER PRIMARY KEY)",
		)
	} else {
		ddl = append(ddl,
			"CREATE TEMP TABLE ab_stage (identifier TEXT PRIMARY KEY)",
			"CREATE TEMP TABLE ab_match (recipient_id BIGINT PRIMARY KEY)",
		)
	}
	for _, q := range ddl {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("prepare the sync tables: %w", err)
		}
	}
	return st, nil
}

// Close drops the temporary tables and hands the connection back.
func (st *ImportStage) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, stmt := range st.insert {
		errs = append(errs, stmt.Close())
	}
	for _, t := range []string{"ab_stage", "ab_rows", "ab_match", "ab_keys"} {
		if _, err := st.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, st.conn.Close())
	return errors.Join(errs...)
}

// rebind turns ? placeholders into PostgreSQL's $n.
func (st *ImportStage) rebind(q string) string {
	if st.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Received is how many members arrived so far.
func (st *ImportStage) Received() int64 { return st.received }

// Add checks, normalises and stages a batch of members. A member that cannot
// be an identifier of the data source is counted, with its reason kept in
// the sample; the same identifier twice is one member.
func (st *ImportStage) Add(ctx context.Context, members []string) error {
	values := make([]string, 0, len(members))
	for _, raw := range members {
		if v, ok := st.check(raw); ok {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return nil
	}
	if st.dialect == Postgres {
		// The batch travels as one array, in one statement.
		return st.countStaged(st.conn.ExecContext(ctx, "INSERT INTO ab_stage (identifier) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", values))
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	for len(args) > 0 {
		n := min(len(args), stageInsertRows)
		stmt, err := st.insertStmt(ctx, n)
		if err != nil {
			return err
		}
		if err := st.countStaged(stmt.ExecContext(ctx, args[:n]...)); err != nil {
			return err
		}
		args = args[n:]
	}
	return nil
}

// countStaged counts the members an insert staged: one staged before is not
// counted again.
func (st *ImportStage) countStaged(res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("stage members: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("stage members: %w", err)
	}
	st.staged += n
	return nil
}

func (st *ImportStage) insertStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	if stmt, ok := st.insert[n]; ok {
		return stmt, nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ab_stage (identifier) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?)")
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	stmt, err := st.conn.PrepareContext(ctx, st.rebind(b.String()))
	if err != nil {
		return nil, fmt.Errorf("stage members: %w", err)
	}
	st.insert[n] = stmt
	return stmt, nil
}

// Reasons a member was not carried.
const (
	ReasonNoRecipient = "no recipient has this identifier"
	ReasonUnhashed    = "looks unhashed, but the data source expects SHA-256 hashes"
	ReasonHashed      = "looks like a SHA-256 hash, but the data source expects plain identifiers"
)

// check returns the value a member reconciles with, or records why it
// cannot.
func (st *ImportStage) check(raw string) (string, bool) {
	st.received++
	v, err := st.rule.MemberValue(raw)
	switch {
	case err != nil && st.rule.Hash == identity.HashSHA256:
		st.reject(raw, ReasonUnhashed, &st.hashMismatch)
		return "", false
	case err != nil && looksHashed(raw):
		st.reject(raw, ReasonHashed, &st.hashMismatch)
		return "", false
	case err != nil:
		st.reject(raw, "malformed: "+err.Error(), &st.malformed)
		return "", false
	case v == "":
		st.reject(raw, "malformed: the member is blank", &st.malformed)
		return "", false
	}
	if st.rule.Hash == identity.HashSHA256 {
		return v, true
	}
	switch st.rule.Key {
	case identity.KeyEmail:
		// Recipients' addresses are stored lower-cased.
		v = strings.ToLower(v)
	case identity.KeyID:
		if id, err := strconv.ParseInt(v, 10, 64); err != nil || id <= 0 {
			st.reject(raw, "malformed: a recipient id is a positive whole number", &st.malformed)
			return "", false
		}
	}
	return v, true
}

func (st *ImportStage) reject(raw, reason string, counter *int64) {
	*counter++
	if len(st.sample) < MaxUnrecognizedSample {
		st.sample = append(st.sample, Unrecognized{Identifier: truncateRunes(raw, 200), Reason: reason})
	}
}

func looksHashed(raw string) bool {
	s := strings.ToLower(strings.TrimSpace(raw))
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// visitorKeys is the key source of visitor IDs.
const visitorKeys = "(SELECT visitor_id AS k_value, recipient_id FROM recipient_visitor_ids)"

// keySource is the SQL of (key, recipient_id) pairs the staged identifiers
// are joined with, served by an index on key.
func (st *ImportStage) keySource(ctx context.Context) (string, error) {
	if st.rule.Hash == identity.HashSHA256 {
		// Hashes of the recipients' keys, computed once per run.
		col := map[identity.Key]string{identity.KeyCRMID: "crm_id", identity.KeyEmail: "email", identity.KeyID: "CAST(id AS TEXT)"}[st.rule.Key]
		hash := "ab_sha256(" + col + ")"
		if st.dialect == Postgres {
			hash = "encode(sha256(convert_to(lower(btrim(" + col + ")), 'UTF8')), 'hex')"
		}
		for _, q := range []string{
			"CREATE TEMP TABLE ab_keys (k_value TEXT NOT NULL, recipient_id BIGINT NOT NULL)",
			"INSERT INTO ab_keys (k_value, recipient_id) SELECT " + hash + ", id FROM recipients WHERE " + col + " IS NOT NULL AND " + col + " <> ''",
			// With the recipient, the index alone answers the join.
			"CREATE INDEX ab_keys_value ON ab_keys (k_value, recipient_id)",
		} {
			if _, err := st.conn.ExecContext(ctx, q); err != nil {
				return "", fmt.Errorf("hash the recipients' keys: %w", err)
			}
		}
		return "ab_keys", nil
	}
	switch st.rule.Key {
	case identity.KeyVisitorID:
		return visitorKeys, nil
	case identity.KeyCRMID:
		return "(SELECT crm_id AS k_value, id AS recipient_id FROM recipients)", nil
	case identity.KeyEmail:
		return "(SELECT email AS k_value, id AS recipient_id FROM recipients)", nil
	}
	return "", nil // KeyID joins on the primary key, see Reconcile
}

// Reconcile finds the recipients of the staged identifiers. The stage is
// read in identifier order (CROSS JOIN keeps SQLite from turning the join
// around), so the lookups walk the key's index in order.
func (st *ImportStage) Reconcile(ctx context.Context) error {
	src, err := st.keySource(ctx)
	if err != nil {
		return err
	}
	// The join, sorted so the match table is built by appending, and its
	// twin for "has a recipient", which the key's index answers alone.
	insertMatches := "INSERT INTO ab_match (recipient_id) SELECT k.recipient_id FROM ab_stage s CROSS JOIN " + src + " k WHERE k.k_value = s.identifier ORDER BY 1 ON CONFLICT DO NOTHING"
	matched := "EXISTS (SELECT 1 FROM " + src + " k WHERE k.k_value = s.identifier)"
	switch {
	case src == "":
		insertMatches = "INSERT INTO ab_match (recipient_id) SELECT r.id FROM ab_stage s CROSS JOIN recipients r WHERE r.id = CAST(s.identifier AS BIGINT) ORDER BY 1 ON CONFLICT DO NOTHING"
		matched = "EXISTS (SELECT 1 FROM recipients r WHERE r.id = CAST(s.identifier AS BIGINT))"
	case st.dialect == SQLite && src == visitorKeys:
		// The visitor-ID index holds the row of each ID, not its
		// recipient: reading the recipients straight from the join would
		// read the table at random, once per member. Sorted first, the rows
		// are read in the table's order.
		if _, err := st.conn.ExecContext(ctx, "INSERT INTO ab_rows (row_id) SELECT k.rowid FROM ab_stage s CROSS JOIN recipient_visitor_ids k WHERE k.visitor_id = s.identifier ORDER BY 1"); err != nil {
			return fmt.Errorf("reconcile members with recipients: %w", err)
		}
		insertMatches = "INSERT INTO ab_match (recipient_id) SELECT k.recipient_id FROM ab_rows r CROSS JOIN recipient_visitor_ids k WHERE k.rowid = r.row_id ORDER BY 1 ON CONFLICT DO NOTHING"
	}
	res, err := st.conn.ExecContext(ctx, insertMatches)
	if err != nil {
		return fmt.Errorf("reconcile members with recipients: %w", err)
	}
	if st.recipients, err = res.RowsAffected(); err != nil {
		return fmt.Errorf("count reconciled recipients: %w", err)
	}
	// A member may have several recipients (a visitor ID two recipients
	// share), and a recipient several members: the members that have one
	// are counted on their own.
	if err := st.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM ab_stage s WHERE "+matched).Scan(&st.reconciled); err != nil {
		return fmt.Errorf("count reconciled members: %w", err)
	}
	if st.reconciled == st.staged {
		return nil // every staged member has a recipient: nothing to explain
	}
	// A declared ID that matched nothing but has the shape of a hash was
	// probably hashed by a publisher the data source does not expect.
	if st.rule.Hash != identity.HashSHA256 && st.rule.IDType == identity.DeclaredID {
		shape := "length(s.identifier) = 64 AND lower(s.identifier) NOT GLOB '*[^0-9a-f]*'"
		if st.dialect == Postgres {
			shape = "s.identifier ~* '^[0-9a-f]{64}$'"
		}
		if err := st.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM ab_stage s WHERE "+shape+" AND NOT "+matched).Scan(&st.unhashedLooking); err != nil {
			return fmt.Errorf("count hashed-looking members: %w", err)
		}
		if err := st.sampleUnmatched(ctx, "WHERE "+shape+" AND NOT "+matched, ReasonHashed); err != nil {
			return err
		}
	}
	return st.sampleUnmatched(ctx, "WHERE NOT "+matched, ReasonNoRecipient)
}

func (st *ImportStage) sampleUnmatched(ctx context.Context, where, reason string) error {
	room := MaxUnrecognizedSample - len(st.sample)
	if room <= 0 {
		return nil
	}
	rows, err := st.conn.QueryContext(ctx, st.rebind("SELECT s.identifier FROM ab_stage s "+where+" ORDER BY s.identifier LIMIT ?"), room)
	if err != nil {
		return fmt.Errorf("sample unrecognised members: %w", err)
	}
	defer rows.Close()
	seen := make(map[string]bool, len(st.sample))
	for _, u := range st.sample {
		seen[u.Identifier] = true
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		if !seen[id] {
			st.sample = append(st.sample, Unrecognized{Identifier: id, Reason: reason})
		}
	}
	return rows.Err()
}

// ImportCounts are a run's counts once reconciled.
type ImportCounts struct {
	Received, Reconciled, NotRecognized, Malformed, HashMismatch int64
	// Recipients is how many distinct recipients the members reconciled to:
	// the list's size after the sync.
	Recipients int64
	Added      int64
	Removed    int64
}

// Counts returns what Reconcile found (Added and Removed come from Replace).
func (st *ImportStage) Counts() ImportCounts {
	received := st.malformed + st.hashMismatch + st.staged
	return ImportCounts{Received: received, Reconciled: st.reconciled, NotRecognized: received - st.reconciled,
		Malformed: st.malformed, HashMismatch: st.hashMismatch + st.unhashedLooking, Recipients: st.recipients}
}

// Sample is the capped list of identifiers not carried, with reasons.
func (st *ImportStage) Sample() []Unrecognized { return st.sample }

// ReplaceResult tells Replace what the library said about the audience.
type ReplaceResult struct {
	RunID            int64
	ListID           int64
	SegmentName      string
	SegmentUpdatedAt time.Time
}

// Replace makes the reconciled recipients the list's members and ends the
// run as succeeded, in one transaction: a reader sees the old members or the
// new ones, never a mix, and a crash before the commit leaves the old ones
// and the run to retry. ErrRunLost means the run was no longer running.
func (st *ImportStage) Replace(ctx context.Context, res ReplaceResult) (ImportCounts, error) {
	counts := st.Counts()
	tx, err := st.conn.BeginTx(ctx, nil)
	if err != nil {
		return counts, fmt.Errorf("begin the list replacement: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	exec := func(q string, args ...any) (int64, error) {
		r, err := tx.ExecContext(ctx, st.rebind(q), args...)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	}
	if st.dialect == Postgres {
		if _, err := exec("SELECT id FROM lists WHERE id = ? FOR UPDATE", res.ListID); err != nil {
			return counts, fmt.Errorf("lock the list: %w", err)
		}
	}
	now := st.store.Now()
	// NOT EXISTS, not NOT IN: PostgreSQL runs NOT IN as a subplan read
	// once per member when the match table outgrows work_mem, which is
	// quadratic; an anti-join is not.
	if counts.Removed, err = exec("DELETE FROM list_members WHERE list_id = ? AND NOT EXISTS (SELECT 1 FROM ab_match m WHERE m.recipient_id = list_members.recipient_id)", res.ListID); err != nil {
		return counts, fmt.Errorf("remove the members that left: %w", err)
	}
	if counts.Added, err = exec("INSERT INTO list_members (list_id, recipient_id, added_at) SELECT ?, recipient_id, ? FROM ab_match WHERE true ON CONFLICT DO NOTHING",
		res.ListID, now); err != nil {
		return counts, fmt.Errorf("add the new members: %w", err)
	}
	var every int
	if err := tx.QueryRowContext(ctx, st.rebind("SELECT sync_every_minutes FROM lists WHERE id = ?"), res.ListID).Scan(&every); err != nil {
		return counts, fmt.Errorf("read the list: %w", err)
	}
	var next any
	if every > 0 {
		next = now.Add(time.Duration(every) * time.Minute)
	}
	if _, err := exec("UPDATE lists SET size = ?, updated_at = ?, segment_name = ?, segment_updated_at = ?, next_sync_at = ? WHERE id = ?",
		counts.Recipients, now, res.SegmentName, res.SegmentUpdatedAt, next, res.ListID); err != nil {
		return counts, fmt.Errorf("update the list: %w", err)
	}
	n, err := exec(`UPDATE sync_runs SET status = ?, finished_at = ?, heartbeat_at = ?, phase = ?, progress_done = progress_total,
		received = ?, reconciled = ?, not_recognized = ?, malformed = ?, hash_mismatch = ?, added = ?, removed = ?, list_size = ?
		WHERE id = ? AND status = ?`,
		RunSucceeded, now, now, "Done", counts.Received, counts.Reconciled, counts.NotRecognized, counts.Malformed, counts.HashMismatch,
		counts.Added, counts.Removed, counts.Recipients, res.RunID, RunRunning)
	if err != nil {
		return counts, fmt.Errorf("end the run: %w", err)
	}
	if n == 0 {
		return counts, ErrRunLost
	}
	if _, err := exec("DELETE FROM sync_unrecognized WHERE run_id = ?", res.RunID); err != nil {
		return counts, fmt.Errorf("keep the unrecognised sample: %w", err)
	}
	for _, u := range st.sample {
		if _, err := exec("INSERT INTO sync_unrecognized (run_id, identifier, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", res.RunID, u.Identifier, u.Reason); err != nil {
			return counts, fmt.Errorf("keep the unrecognised sample: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return counts, fmt.Errorf("commit the list replacement: %w", err)
	}
	return counts, nil
}
