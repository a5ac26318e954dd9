package library

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"audiencebridge/models"
)

// Limits of Audience Manager's inbound batch files.
const (
	// MaxBatchLineBytes is the longest row, without its line break.
	MaxBatchLineBytes = 102400
	// MaxRowsPerUser is how many rows one user may have in an upload.
	MaxRowsPerUser = 200
	// BatchLines is how many rows are applied together, in one transaction.
	BatchLines = 10000
	// maxBatchKeys also ends a batch, so that long rows of many keys never
	// pile up in memory.
	maxBatchKeys = 200000
	// maxForeignLookups bounds the database look-ups made only to explain
	// why a key names no segment of the file's data source.
	maxForeignLookups = 10000
)

// BatchNameRule is the naming rule of batch files, quoted by every name error.
const BatchNameRule = "name a batch file ftp_dpm_<DPID>_<10-digit UTC seconds>.sync or .overwrite, " +
	"optionally followed by a split number .N and by .gz (ftp_dpm_1234_1700000000.sync.1.gz)"

// FileError refuses a batch file as a whole, before anything is applied: its
// name, its data source or its compression. Field is "name" when the name is
// to blame.
type FileError struct {
	Field   string
	Message string
}

func (e *FileError) Error() string { return e.Message }

// ReadError says that a batch file could not be read to its end (a truncated
// .gz, a body over the limit): the batches before Line were applied, the
// report says so, and nothing after them was.
type ReadError struct {
	// Line is the last line read whole.
	Line int
	Err  error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("reading stopped after line %d: %v", e.Line, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// BatchName is what a batch file's name says.
type BatchName struct {
	DPID int64
	// Time is the 10-digit UTC seconds of the name.
	Time      time.Time
	Overwrite bool
	// Part is the split number, 0 when the file is not split.
	Part int
	Gzip bool
}

// Upload names the upload the file belongs to: its split files share it.
func (n BatchName) Upload() string {
	mode := "sync"
	if n.Overwrite {
		mode = "overwrite"
	}
	return fmt.Sprintf("ftp_dpm_%d_%010d.%s", n.DPID, n.Time.Unix(), mode)
}

// String is the file name.
func (n BatchName) String() string {
	s := n.Upload()
	if n.Part > 0 {
		s += "." + strconv.Itoa(n.Part)
	}
	if n.Gzip {
		s += ".gz"
	}
	return s
}

// ParseBatchName reads a batch file's name; a *FileError quoting
// BatchNameRule says what is wrong with it.
func ParseBatchName(name string) (BatchName, error) {
	bad := func(format string, args ...any) (BatchName, error) {
		return BatchName{}, &FileError{Field: "name", Message: fmt.Sprintf("file name %s: %s; %s", quoteShort(name), fmt.Sprintf(format, args...), BatchNameRule)}
	}
	if name == "" {
		return BatchName{}, &FileError{Field: "name", Message: "give the file's name: " + BatchNameRule}
	}
	if strings.ContainsAny(name, `/\`) {
		return bad("a file name has no folders")
	}
	rest, ok := strings.CutPrefix(name, "ftp_dpm_")
	if !ok {
		return bad("it does not start with ftp_dpm_")
	}
	dpid, rest := leadingDigits(rest)
	switch {
	case dpid == "":
		return bad("ftp_dpm_ is followed by the DPID, a number")
	case dpid[0] == '0' || len(dpid) > 18:
		return bad("the DPID %s is not a data source ID", dpid)
	case !strings.HasPrefix(rest, "_"):
		return bad("the DPID is followed by _ and the time")
	}
	ts, rest := leadingDigits(rest[1:])
	switch {
	case len(ts) != 10:
		return bad("the time after the DPID is 10 digits, the UTC seconds since 1970")
	case !strings.HasPrefix(rest, "."):
		return bad("the time is followed by .sync or .overwrite")
	}
	comps := strings.Split(rest[1:], ".")
	var n BatchName
	n.DPID, _ = strconv.ParseInt(dpid, 10, 64) // at most 18 digits: always a valid int64
	secs, _ := strconv.ParseInt(ts, 10, 64)    // 10 digits: always a valid int64
	n.Time = time.Unix(secs, 0).UTC()
	switch comps[0] {
	case "sync":
	case "overwrite":
		n.Overwrite = true
	default:
		return bad("the time is followed by .sync or .overwrite, not %s", quoteShort("."+comps[0]))
	}
	comps = comps[1:]
	if len(comps) > 0 && comps[0] != "gz" {
		part, after := leadingDigits(comps[0])
		if part == "" || after != "" {
			return bad("after .sync or .overwrite come only a split number .N and .gz, not %s", quoteShort("."+comps[0]))
		}
		if part[0] == '0' || len(part) > 6 {
			return bad("the split number %s is not a whole number from 1", part)
		}
		n.Part, _ = strconv.Atoi(part) // at most 6 digits
		comps = comps[1:]
	}
	if len(comps) > 0 && comps[0] == "gz" {
		n.Gzip = true
		comps = comps[1:]
	}
	if len(comps) > 0 {
		return bad(".gz comes last and once, not followed by %s", quoteShort("."+comps[0]))
	}
	return n, nil
}

func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// quoteShort quotes a value for a message, cut to 60 bytes, control
// characters and invalid UTF-8 escaped.
func quoteShort(s string) string {
	if len(s) > 60 {
		cut := 60
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return strconv.Quote(s[:cut] + "…")
	}
	return strconv.Quote(s)
}

// lineReader reads a batch file's lines without ever holding more than one
// line of at most max bytes: a longer line is skipped as it is read.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int // the number of the line last returned
}

func newLineReader(r io.Reader, max int) *lineReader {
	// Room for the longest line, a byte-order mark and "\r\n".
	return &lineReader{br: bufio.NewReaderSize(r, max+5), max: max}
}

// next returns the next line without its line break, or tooLong for a line
// over the limit. At the end it returns io.EOF; a read error drops the
// incomplete line it interrupts.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	b, err := l.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		l.line++
		return nil, true, nil
	case errors.Is(err, io.EOF) && len(b) == 0:
		return nil, false, io.EOF
	case err != nil && !errors.Is(err, io.EOF):
		return nil, false, err
	}
	l.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if l.line == 1 {
		b = bytes.TrimPrefix(b, []byte("\ufeff"))
	}
	if len(b) > l.max {
		return nil, true, nil
	}
	return b, false, nil
}

// keyKind is what a key does to a segment membership.
type keyKind uint8

const (
	keyAdd    keyKind = iota + 1 // d_sid=, ic=, a bare integration code
	keyRemove                    // <sid>:0, <sid>:-1
	keyUnsid                     // d_unsid=: removes, except in an .overwrite
)

// batchKey is one parsed key: a segment by sid, or by integration code.
type batchKey struct {
	kind keyKind
	sid  int64
	code string
}

// splitBatchRow splits a row into its user ID and its keys: the user ID
// ends at the first tab, keys are separated by commas (or tabs) outside
// double quotes.
func splitBatchRow(line string) (user string, keys []string, problem string) {
	user, rest, ok := strings.Cut(line, "\t")
	if !ok {
		return "", nil, "a row is <user ID><TAB><key>,<key>,...: this line has no tab"
	}
	if strings.TrimSpace(rest) == "" {
		return "", nil, "this row names no segment after the tab"
	}
	quoted, start := false, 0
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == '\t'):
			keys = append(keys, strings.TrimSpace(rest[start:i]))
			start = i + 1
		}
	}
	keys = append(keys, strings.TrimSpace(rest[start:]))
	return user, keys, ""
}

// parseBatchKey reads one key; problem says why it is not a segment key.
func parseBatchKey(raw string) (k batchKey, problem string) {
	sidOf := func(s, form string) (batchKey, string) {
		digits, rest := leadingDigits(s)
		if digits == "" || rest != "" || len(digits) > 18 || strings.Trim(digits, "0") == "" {
			return batchKey{}, form + " takes a segment's sid, a whole number from 1"
		}
		sid, _ := strconv.ParseInt(digits, 10, 64) // at most 18 digits
		return batchKey{sid: sid}, ""
	}
	switch {
	case raw == "":
		return k, "an empty key: keys are separated by single commas"
	case strings.HasPrefix(raw, "d_sid="):
		k, problem = sidOf(raw[len("d_sid="):], "d_sid=")
		k.kind = keyAdd
	case strings.HasPrefix(raw, "d_unsid="):
		k, problem = sidOf(raw[len("d_unsid="):], "d_unsid=")
		k.kind = keyUnsid
	case strings.HasPrefix(raw, "ic="):
		code := raw[len("ic="):]
		if code == "" || strings.ContainsAny(code, `:"=`) {
			return k, "ic= takes a segment's integration code"
		}
		k = batchKey{kind: keyAdd, code: code}
	case strings.HasPrefix(raw, `"`) || strings.Contains(raw, "="):
		return k, "a key-value pair (\"key\"=\"value\") is not a segment membership: name a segment with d_sid=<sid>, ic=<integration code> or its integration code"
	case strings.Contains(raw, ":"):
		sid, realized, _ := strings.Cut(raw, ":")
		if realized != "0" && realized != "-1" {
			return k, "<sid>:0 and <sid>:-1 remove a segment; no other value may follow the \":\""
		}
		k, problem = sidOf(sid, "<sid>:"+realized)
		k.kind = keyRemove
	default:
		k = batchKey{kind: keyAdd, code: raw}
	}
	return k, problem
}

// BatchReport is the outcome of a batch file, the answer of POST
// /aam/v1/files and the report beside a dropped file. Lines counts rows
// (blank lines aside): each is applied (at least one of its keys was) or
// rejected. Errors lists bad lines and keys by line, the first
// MaxLineErrors of them and, always, where reading stopped.
type BatchReport struct {
	Lines    int         `json:"lines"`
	Applied  int         `json:"applied"`
	Rejected int         `json:"rejected"`
	Errors   []LineError `json:"errors"`
}

// BatchProcessor applies batch files to the embedded library.
type BatchProcessor struct {
	Library *Embedded
	// BatchLines is how many rows one transaction applies; 0 is BatchLines.
	BatchLines int
	// maxLine is MaxBatchLineBytes unless a test says otherwise.
	maxLine int
}

// NewBatchProcessor returns the processor of batch files for lib.
func NewBatchProcessor(lib *Embedded) *BatchProcessor { return &BatchProcessor{Library: lib} }

// Process applies the batch file called name, read from r. A *FileError
// refuses the file before anything changes. A *ReadError comes with a
// report of what was applied before the file broke off. Any other error is
// a fault, with the report of what was applied before it.
func (p *BatchProcessor) Process(ctx context.Context, name string, r io.Reader) (BatchReport, error) {
	rep := BatchReport{Errors: []LineError{}}
	bn, err := ParseBatchName(name)
	if err != nil {
		return rep, err
	}
	store := p.Library.Store
	ds, err := store.LibDataSource(ctx, bn.DPID)
	if errors.Is(err, models.ErrNotFound) {
		return rep, &FileError{Field: "name", Message: fmt.Sprintf("no data source of the library has the DPID %d of the file name", bn.DPID)}
	}
	if err != nil {
		return rep, err
	}
	if ds.Status != Active {
		return rep, &FileError{Field: "name", Message: fmt.Sprintf("data source %d is inactive: activate it before sending it files", ds.ID)}
	}
	segs, err := store.LibSegmentKeys(ctx, ds.ID)
	if err != nil {
		return rep, err
	}
	if bn.Gzip {
		zr, err := gzip.NewReader(r)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrHeader):
			return rep, &FileError{Message: "the name ends in .gz but the file is not gzip data"}
		case err != nil:
			return rep, &ReadError{Err: err}
		}
		r = zr
	}
	partID, err := store.StartLibBatchPart(ctx, bn.Upload(), bn.Part)
	if err != nil {
		return rep, err
	}
	run := &batchRun{p: p, ctx: ctx, name: bn, dataSource: ds, check: MemberCheck(IDType(ds.IDType)), partID: partID,
		bySID: map[int64]models.LibSegmentKey{}, byCode: map[string]models.LibSegmentKey{}, explained: map[string]string{},
		touched: map[int64]bool{}, rep: &rep}
	for _, s := range segs {
		run.bySID[s.SID] = s
		if s.IntegrationCode != nil {
			run.byCode[*s.IntegrationCode] = s
		}
	}
	err = run.read(r)
	return rep, errors.Join(err, run.finish())
}

// batchRun is the processing of one file.
type batchRun struct {
	p          *BatchProcessor
	ctx        context.Context
	name       BatchName
	dataSource *models.LibDataSource
	check      func(string) (string, error)
	partID     int64

	bySID     map[int64]models.LibSegmentKey
	byCode    map[string]models.LibSegmentKey
	explained map[string]string // why a key names no segment of the data source

	rows    []pendingRow // the batch being read
	keys    int
	touched map[int64]bool
	rep     *BatchReport
}

// pendingRow is a row of the batch being read, decided when it is applied:
// the rows-per-user limit needs what earlier batches saw of the user.
type pendingRow struct {
	line    int
	user    string // "" when the row is rejected already
	ops     []batchKey
	errors  []string
	applied bool
}

type memberOp struct {
	sid    int64
	member string
}

func (b *batchRun) read(r io.Reader) error {
	maxLine := b.p.maxLine
	if maxLine == 0 {
		maxLine = MaxBatchLineBytes
	}
	batchLines := b.p.BatchLines
	if batchLines <= 0 {
		batchLines = BatchLines
	}
	lr := newLineReader(r, maxLine)
	for {
		line, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			return b.flush()
		}
		if err != nil {
			b.stop(lr.line, err)
			return &ReadError{Line: lr.line, Err: err}
		}
		switch {
		case tooLong:
			b.rows = append(b.rows, pendingRow{line: lr.line, errors: []string{fmt.Sprintf("a row has at most %d bytes: this one is longer and was skipped", maxLine)}})
		case len(bytes.TrimSpace(line)) == 0:
			continue
		default:
			b.rows = append(b.rows, b.parse(lr.line, string(line)))
		}
		if len(b.rows) >= batchLines || b.keys >= maxBatchKeys {
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
}

// parse reads a row and resolves its keys to segments of the data source.
func (b *batchRun) parse(n int, line string) pendingRow {
	row := pendingRow{line: n}
	rawUser, keys, problem := splitBatchRow(line)
	if problem != "" {
		row.errors = append(row.errors, problem)
		return row
	}
	user, err := b.check(rawUser)
	if err != nil {
		row.errors = append(row.errors, err.Error())
		return row
	}
	row.user = strings.Clone(user) // the line itself is not kept
	for _, raw := range keys {
		k, problem := parseBatchKey(raw)
		if problem == "" {
			k, problem = b.resolve(k)
		}
		if problem == "" && k.kind == keyUnsid && b.name.Overwrite {
			problem = "d_unsid= is ignored in an .overwrite file: the file lists each user's segments in full"
		}
		if problem != "" {
			row.errors = append(row.errors, fmt.Sprintf("key %s: %s", quoteShort(raw), problem))
			continue
		}
		k.code = ""
		row.ops = append(row.ops, k)
	}
	b.keys += len(row.ops)
	return row
}

// resolve finds the segment a key names among the data source's segments.
func (b *batchRun) resolve(k batchKey) (batchKey, string) {
	seg, ok := b.bySID[k.sid]
	what := fmt.Sprintf("sid %d", k.sid)
	if k.code != "" {
		seg, ok = b.byCode[k.code]
		what = "integration code " + quoteShort(k.code)
	}
	if !ok {
		return k, b.explain(k, what)
	}
	if seg.Status != Active {
		return k, fmt.Sprintf("segment %d is inactive: activate it to change its members", seg.SID)
	}
	k.sid = seg.SID
	return k, ""
}

// explain says why no segment of the data source has a sid or a code,
// looking the key up in the whole library a bounded number of times.
func (b *batchRun) explain(k batchKey, what string) string {
	if why, ok := b.explained[what]; ok {
		return why
	}
	why := fmt.Sprintf("no segment of data source %d has the %s", b.dataSource.ID, what)
	if len(b.explained) >= maxForeignLookups {
		return why
	}
	var seg *models.LibSegment
	var err error
	if k.code != "" {
		seg, err = b.p.Library.Store.LibSegmentByCode(b.ctx, k.code)
	} else {
		seg, err = b.p.Library.Store.LibSegment(b.ctx, k.sid)
	}
	switch {
	case err == nil:
		why = fmt.Sprintf("segment %d (%s) belongs to data source %d, not to %d of this file", seg.SID, what, seg.DataSourceID, b.dataSource.ID)
	case errors.Is(err, models.ErrNotFound):
		why = fmt.Sprintf("no segment has the %s", what)
	}
	// A failed look-up keeps the plain reason: the key is refused either way.
	if digits, rest := leadingDigits(k.code); digits != "" && rest == "" {
		why += fmt.Sprintf("; to name segment %s by its sid, write d_sid=%s", digits, digits)
	}
	b.explained[what] = why
	return why
}

// flush decides and applies the rows read since the last batch, in one
// transaction; the report learns of them once it is committed.
func (b *batchRun) flush() error {
	if len(b.rows) == 0 {
		return nil
	}
	rows := b.rows
	b.rows, b.keys = nil, 0
	users := make([]string, 0, len(rows))
	seen := map[string]bool{}
	for _, r := range rows {
		if r.user != "" && !seen[r.user] {
			seen[r.user] = true
			users = append(users, r.user)
		}
	}
	upload := b.name.Upload()
	var touched []int64
	err := b.p.Library.Store.Tx(b.ctx, func(tx *models.Store) error {
		if err := tx.LockLibBatchUpload(b.ctx, upload); err != nil {
			return err
		}
		prior, err := tx.LibBatchUsers(b.ctx, upload, users)
		if err != nil {
			return err
		}
		ch := b.decide(rows, prior)
		touched, err = tx.ApplyLibBatch(b.ctx, ch)
		return err
	})
	if err != nil {
		first, last := rows[0].line, rows[len(rows)-1].line
		b.rep.Lines += len(rows)
		b.rep.Rejected += len(rows)
		b.rep.Errors = append(b.rep.Errors, LineError{Line: first, Reason: fmt.Sprintf(
			"processing stopped because of an internal error: lines %d to %d were not applied, the lines before them were", first, last)})
		return fmt.Errorf("apply lines %d to %d: %w", first, last, err)
	}
	for _, sid := range touched {
		b.touched[sid] = true
	}
	for _, r := range rows {
		b.rep.Lines++
		if r.applied {
			b.rep.Applied++
		} else {
			b.rep.Rejected++
		}
		for _, why := range r.errors {
			if len(b.rep.Errors) < MaxLineErrors {
				b.rep.Errors = append(b.rep.Errors, LineError{Line: r.line, Reason: why})
			}
		}
	}
	return nil
}

// decide applies the rows-per-user limit and turns the rows into one
// set-based change: the last key about a membership wins.
func (b *batchRun) decide(rows []pendingRow, prior map[string]models.LibBatchUser) models.LibBatchChange {
	ch := models.LibBatchChange{PartID: b.partID, DataSourceID: b.dataSource.ID, Users: map[string]models.LibBatchUser{}}
	final := map[memberOp]bool{} // true adds, false removes
	var order []memberOp
	for i := range rows {
		r := &rows[i]
		r.applied = false
		if r.user == "" {
			continue
		}
		u := ch.Users[r.user]
		u.Rows++
		before := prior[r.user]
		if n := before.Rows + u.Rows; n > MaxRowsPerUser {
			ch.Users[r.user] = u
			r.errors = []string{fmt.Sprintf("a user has at most %d rows in an upload: this is row %d of %s", MaxRowsPerUser, n, quoteShort(r.user))}
			continue
		}
		if len(r.ops) > 0 {
			r.applied = true
			if b.name.Overwrite && !before.Listed && !u.Listed {
				ch.Replace = append(ch.Replace, r.user)
			}
			u.Listed = b.name.Overwrite
		}
		ch.Users[r.user] = u
		for _, k := range r.ops {
			op := memberOp{sid: k.sid, member: r.user}
			if _, ok := final[op]; !ok {
				order = append(order, op)
			}
			final[op] = k.kind == keyAdd
		}
	}
	for _, op := range order {
		pair := models.LibPair{SID: op.sid, Member: op.member}
		if final[op] {
			ch.Add = append(ch.Add, pair)
		} else {
			ch.Remove = append(ch.Remove, pair)
		}
	}
	return ch
}

// stop reports where reading broke off: the rows of the unfinished batch
// count as rejected, with one error saying why.
func (b *batchRun) stop(lastRead int, err error) {
	first := lastRead + 1
	if len(b.rows) > 0 {
		first = b.rows[0].line
	}
	b.rep.Lines += len(b.rows)
	b.rep.Rejected += len(b.rows)
	b.rows, b.keys = nil, 0
	why := fmt.Sprintf("reading stopped after line %d: %s; ", lastRead, readProblem(err))
	if first <= lastRead {
		why += fmt.Sprintf("lines %d to %d were not applied, the lines before them were", first, lastRead)
	} else {
		why += "the lines before were applied"
	}
	b.rep.Errors = append(b.rep.Errors, LineError{Line: first, Reason: why})
}

func readProblem(err error) string {
	var tooBig *http.MaxBytesError
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the file is truncated (unexpected end of the gzip data)"
	case errors.Is(err, gzip.ErrChecksum):
		return "the gzip checksum does not match: the file is corrupt"
	case errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt):
		return "the gzip data is corrupt"
	case errors.As(err, &tooBig):
		return fmt.Sprintf("the file is larger than %d bytes", tooBig.Limit)
	}
	return err.Error()
}

// finish recounts the touched segments and tells who depends on them, even
// when the file broke off: what was committed stays. A file that is not
// split forgets its users' rows, which only its own batches needed.
func (b *batchRun) finish() error {
	sids := make([]int64, 0, len(b.touched))
	for sid := range b.touched {
		sids = append(sids, sid)
	}
	slices.Sort(sids)
	ctx := context.WithoutCancel(b.ctx)
	if err := b.p.Library.Store.RecountLibSegments(ctx, sids); err != nil {
		return err
	}
	if b.name.Part == 0 {
		// No split file follows: what the file recorded of its users is done.
		if err := b.p.Library.Store.ForgetLibBatchPart(ctx, b.partID); err != nil {
			return err
		}
	}
	for _, sid := range sids {
		b.p.Library.changed(ctx, sid)
	}
	return nil
}
