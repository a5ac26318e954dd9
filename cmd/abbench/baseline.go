package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"audiencebridge/models"
)

// baseline is the sqlite3 shell doing the same set-based work on a copy of
// the database in the state our sync starts from: .import the segment's
// identifiers into a new table, then INSERT ... SELECT their join with the
// recipients' visitor IDs into the list's members.
type baseline struct {
	shell   string
	db      string // our database file
	copy    string // the shell's copy of it
	members string // the segment's identifiers, one a line
	listID  int64
	store   *models.Store
}

// errNoShell explains what to do when Debian's sqlite3 shell is missing.
var errNoShell = errors.New("the baseline needs the sqlite3 command-line shell: install it (apt-get install -y sqlite3) or pass --baseline=false")

func newBaseline(ctx context.Context, store *models.Store, db string, sid, listID int64, tmp string) (*baseline, error) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		return nil, errNoShell
	}
	b := &baseline{shell: shell, db: db, copy: filepath.Join(tmp, "baseline.db"), members: filepath.Join(tmp, "members.txt"), listID: listID, store: store}
	if err := b.writeMembers(ctx, sid); err != nil {
		b.remove()
		return nil, err
	}
	return b, nil
}

// writeMembers writes the segment's identifiers in the order the library
// streams them.
func (b *baseline) writeMembers(ctx context.Context, sid int64) error {
	db, err := b.store.SQL()
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, "SELECT member FROM lib_members WHERE segment_id = ? ORDER BY member", sid)
	if err != nil {
		return err
	}
	defer rows.Close()
	f, err := os.Create(b.members)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var m sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&m); err != nil {
			_ = f.Close()
			return err
		}
		w.Write(m)
		w.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		_ = f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// baselineJoins are the two ways to write the shell's INSERT ... SELECT:
// in the join's order (the identifiers'), or sorted by recipient so the
// members table is appended to. Which is faster depends on whether the
// rows are new, so the baseline is the faster of the two.
var baselineJoins = []string{
	"INSERT INTO list_members (list_id, recipient_id, added_at) SELECT %d, v.recipient_id, '%s' FROM ab_import s JOIN recipient_visitor_ids v ON v.visitor_id = s.identifier WHERE true ON CONFLICT DO NOTHING;",
	"INSERT INTO list_members (list_id, recipient_id, added_at) SELECT %d, v.recipient_id, '%s' FROM ab_import s JOIN recipient_visitor_ids v ON v.visitor_id = s.identifier ORDER BY v.recipient_id ON CONFLICT DO NOTHING;",
}

// measure times the shell on copies of the database as it is now, once for
// each of baselineJoins, and returns the faster.
func (b *baseline) measure(ctx context.Context, added int64) (result, error) {
	var best result
	for _, join := range baselineJoins {
		if err := b.snapshot(ctx); err != nil {
			return result{}, err
		}
		r, err := b.run(ctx, fmt.Sprintf(join, b.listID, b.store.Now().Format("2006-01-02 15:04:05.999999999-07:00")), added)
		b.removeCopy()
		if err != nil {
			return result{}, err
		}
		if best.Check == "" || r.Check == "ok" && (best.Check != "ok" || r.Seconds < best.Seconds) {
			best = r
		}
	}
	return best, nil
}

// run times the shell loading the identifiers into a new table and running
// join on the copy.
func (b *baseline) run(ctx context.Context, join string, added int64) (result, error) {
	script := fmt.Sprintf(".bail on\nCREATE TABLE ab_import (identifier TEXT);\n.import --csv '%s' ab_import\n%s\nSELECT changes();\n", b.members, join)
	r, got, err := timeShell(ctx, b.shell, b.copy, script)
	if err != nil {
		return r, err
	}
	r.Check = "ok"
	if got != added {
		r.Check = fmt.Sprintf("added %d, want %d", got, added)
	}
	return r, nil
}

// timeShell times the shell running script on the database db, with its
// CPU time and peak memory, and returns the number it printed (the script
// ends with SELECT changes()).
func timeShell(ctx context.Context, shell, db, script string) (result, int64, error) {
	cmd := exec.CommandContext(ctx, shell, db)
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, 0, fmt.Errorf("%s: %w", shell, err)
	}
	// The shell's peak memory, read while it runs: the child's rusage
	// would count the memory of this process it was forked from.
	peak := make(chan int64, 1)
	done := make(chan struct{})
	go func() {
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		var kb int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			kb = max(kb, procValue(status, "VmHWM:"))
			select {
			case <-done:
				peak <- kb
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	r := result{Seconds: time.Since(start).Seconds()}
	close(done)
	r.PeakRSSMB = float64(<-peak) / 1024
	if err != nil {
		return r, 0, fmt.Errorf("%s: %w: %s", shell, err, strings.TrimSpace(stderr.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPUSecs = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	got, err := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
	if err != nil {
		return r, 0, fmt.Errorf("%s printed %q, not a count", shell, stdout.String())
	}
	return r, got, nil
}

// snapshot copies the database file once its write-ahead log is folded in.
func (b *baseline) snapshot(ctx context.Context) error {
	db, err := b.store.SQL()
	if err != nil {
		return err
	}
	var busy, frames, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("checkpoint: the database is busy")
	}
	src, err := os.Open(b.db)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(b.copy)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}

func (b *baseline) removeCopy() {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(b.copy + suffix) // a temporary copy: nothing to lose
	}
}

func (b *baseline) remove() {
	b.removeCopy()
	_ = os.Remove(b.members)
}

// importBaselineScript is the shell importing the generated file the
// set-based way: .import into a new table, then INSERT ... SELECT the
// recipients and their visitor IDs from it. It does less than an import
// (no checks of the cells, no rejected rows kept, nothing to resume from),
// which makes it the floor our import is measured against.
const importBaselineScript = `.bail on
CREATE TABLE ab_csv (email TEXT, first_name TEXT, last_name TEXT, crm_id TEXT, visitor_id TEXT);
.import --csv --skip 1 '%[1]s' ab_csv
INSERT INTO recipients (email, first_name, last_name, crm_id, created_at, updated_at)
	SELECT lower(email), first_name, last_name, NULLIF(crm_id, ''), '%[2]s', '%[2]s' FROM ab_csv WHERE true ON CONFLICT DO NOTHING;
SELECT changes();
INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at)
	SELECT r.id, s.visitor_id, '%[2]s' FROM ab_csv s JOIN recipients r ON r.email = lower(s.email) WHERE s.visitor_id <> '' ON CONFLICT DO NOTHING;
`

// importBaseline times the shell importing file into a copy of the
// database as it is now. Its check is the recipients it created, which
// must be at least want (it rejects nothing, so it keeps the rows our
// import refuses for a bad cell).
func importBaseline(ctx context.Context, store *models.Store, dsn, tmp, file string, want int64) (result, error) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		return result{}, errNoShell
	}
	b := &baseline{shell: shell, db: dsn, copy: filepath.Join(tmp, "import-baseline.db"), store: store}
	defer b.removeCopy()
	if err := b.snapshot(ctx); err != nil {
		return result{}, err
	}
	script := fmt.Sprintf(importBaselineScript, file, store.Now().Format("2006-01-02 15:04:05.999999999-07:00"))
	r, created, err := timeShell(ctx, shell, b.copy, script)
	if err != nil {
		return r, err
	}
	if created < want {
		r.Check = fmt.Sprintf("created %d recipients, want at least %d", created, want)
	} else {
		r.Check = "ok"
	}
	return r, nil
}
