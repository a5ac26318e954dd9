package importer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"audiencebridge/models"
)

// BatchRows is how many rows are applied in one transaction: large enough
// that the per-batch statements are cheap per row, small enough that a
// batch commits in well under a second.
const BatchRows = 5000

// sourceError marks a failure to read the file (a database read of an
// uploaded chunk, a broken request body): worth retrying, unlike a problem
// with the file's content.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &sourceError{err}
	}
	return n, err
}

// Run applies an import from its uploaded file, resuming after the last
// batch it committed, and stops after budget (0: no limit) so a long import
// works in slices. It reports done once the import has ended, well or not;
// an error means "retry later".
func Run(ctx context.Context, store *models.Store, importID int64, budget time.Duration) (done bool, err error) {
	imp, err := store.StartImport(ctx, importID)
	if err != nil {
		return false, err
	}
	if imp.Finished() {
		return true, nil
	}
	if imp.UploadID == nil {
		return true, store.FailImport(ctx, imp.ID, "the uploaded file is no longer available: upload it again")
	}
	return apply(ctx, store, imp, store.OpenUpload(ctx, *imp.UploadID), budget)
}

func apply(ctx context.Context, store *models.Store, imp *models.RecipientImport, src io.Reader, budget time.Duration) (bool, error) {
	settings, err := imp.Settings()
	if err != nil {
		return true, store.FailImport(ctx, imp.ID, err.Error())
	}
	delim, _ := utf8.DecodeRuneInString(settings.Delimiter)
	mapping := make(Mapping, len(settings.Mapping))
	for i, c := range settings.Mapping {
		mapping[i] = Column(c)
	}
	deadline := time.Now().Add(budget)
	// The file is read and checked one batch ahead of the database, on
	// another goroutine: reading a batch costs about a tenth of applying
	// it, and on more than one core it costs no time at all.
	batches := make(chan batch, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	counter := &countingReader{r: src}
	go func() {
		defer close(done)
		readBatches(NewReader(counter, delim, mapping), counter, imp.LinesDone, batches, stop)
	}()
	defer func() {
		close(stop)
		<-done // src is not read once apply has returned
	}()
	for b := range batches {
		if b.fail != "" {
			return true, store.FailImport(ctx, imp.ID, b.fail)
		}
		if b.err != nil {
			return false, b.err
		}
		if len(b.rows) > 0 || len(b.rejected) > 0 {
			if _, err := store.ApplyImportBatch(ctx, imp.ID, b.rows, b.rejected, b.progress); err != nil {
				return false, err
			}
		}
		if b.last {
			return true, store.FinishImport(ctx, imp.ID)
		}
		if budget > 0 && time.Now().After(deadline) {
			return false, nil
		}
	}
	return false, errors.New("the file reader stopped early") // readBatches always ends with a last batch, a failure or an error
}

// batch is what readBatches hands over: BatchRows rows to apply, or fewer
// with last set at the end of the file, or a reason to fail the import
// with, or an error reading the file (worth retrying).
type batch struct {
	rows     []models.ImportRow
	rejected []models.ImportRejection
	progress models.BatchProgress
	last     bool
	fail     string
	err      error
}

// readBatches reads rd, which reads counter, into batches of BatchRows
// rows after line linesDone, and sends them until the last one, or until
// stop is closed.
func readBatches(rd *Reader, counter *countingReader, linesDone int64, batches chan<- batch, stop <-chan struct{}) {
	defer close(batches)
	send := func(b batch) bool {
		select {
		case batches <- b:
			return true
		case <-stop:
			return false
		}
	}
	b := batch{progress: models.BatchProgress{LastLine: linesDone}}
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			b.progress.ProcessedBytes, b.last = counter.n, true
			send(b)
			return
		}
		var se *sourceError
		if errors.As(err, &se) {
			send(batch{err: fmt.Errorf("read the file: %w", err)})
			return
		}
		if err != nil {
			send(batch{fail: err.Error()})
			return
		}
		if rd.Header() == nil && row.Problem != "" {
			send(batch{fail: row.Problem})
			return
		}
		if row.Line <= linesDone {
			continue // applied before this slice
		}
		b.progress.RowsRead++
		b.progress.LastLine = row.Line
		raw, jerr := json.Marshal(row.Fields)
		if jerr != nil {
			send(batch{err: fmt.Errorf("encode row %d: %w", row.Line, jerr)})
			return
		}
		if row.Problem != "" {
			b.rejected = append(b.rejected, models.ImportRejection{Line: row.Line, Reason: row.Problem, Raw: string(raw)})
		} else {
			if b.rows == nil {
				b.rows = make([]models.ImportRow, 0, BatchRows)
			}
			b.rows = append(b.rows, models.ImportRow{Line: row.Line, Email: row.Email, FirstName: row.FirstName, LastName: row.LastName,
				CRMID: row.CRMID, VisitorID: row.VisitorID, Raw: string(raw)})
		}
		if len(b.rows)+len(b.rejected) >= BatchRows {
			b.progress.ProcessedBytes = counter.n
			if !send(b) {
				return
			}
			b = batch{progress: models.BatchProgress{LastLine: b.progress.LastLine}}
		}
	}
}

// Result is what the API answers for an import.
type Result struct {
	Import   *models.RecipientImport
	Warnings []string
}

// ImportStream imports a CSV read from r right away (the API's synchronous
// import): the header names the columns, which are mapped automatically;
// unknown columns are ignored with a warning. Existing recipients are updated.
func ImportStream(ctx context.Context, store *models.Store, actor models.Actor, r io.Reader, fileName string) (*Result, error) {
	br := bufio.NewReaderSize(&countingReader{r: r}, SniffBytes)
	head, err := br.Peek(SniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	pv, err := Sniff(head, 0)
	if err != nil {
		return nil, models.Invalid("body", "%s", err.Error())
	}
	if err := pv.Mapping.Validate(); err != nil {
		return nil, models.Invalid("body", "the header line must name the columns, with email among them: %s", err.Error())
	}
	settings := models.ImportSettings{Delimiter: string(pv.Delimiter), Header: pv.Header, Mapping: mappingStrings(pv.Mapping), UpdateExisting: true}
	imp, err := store.CreateImport(ctx, actor, &models.RecipientImport{FileName: fileName, Source: "api"}, settings, models.ImportTarget{}, nil)
	if err != nil {
		return nil, err
	}
	if _, err := store.StartImport(ctx, imp.ID); err != nil {
		return nil, err
	}
	if _, err := apply(ctx, store, imp, br, 0); err != nil {
		if ferr := store.FailImport(context.WithoutCancel(ctx), imp.ID, err.Error()); ferr != nil {
			return nil, errors.Join(err, ferr)
		}
		return nil, err
	}
	if imp, err = store.ImportByID(ctx, imp.ID); err != nil {
		return nil, err
	}
	return &Result{Import: imp, Warnings: pv.Warnings}, nil
}

func mappingStrings(m Mapping) []string {
	out := make([]string, len(m))
	for i, c := range m {
		out[i] = string(c)
	}
	return out
}
