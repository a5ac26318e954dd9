package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"audiencebridge/importer"
	"audiencebridge/models"
)

// measure uploads and imports the file twice on the database, each import
// beside the sqlite3 shell's on a copy of the database as it is before it
// (withBaseline, SQLite only).
func measure(ctx context.Context, dsn, file string, want expected, n int, tmp string, withBaseline bool) ([]result, error) {
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	var out []result
	for _, step := range []struct {
		name                      string
		created, updated, skipped int64
	}{
		{"import", int64(want.good), 0, 0},
		// The same file again: every good row names an existing recipient
		// with the same values.
		{"re-import", 0, 0, int64(want.good)},
	} {
		up, r, err := upload(ctx, store, file)
		if err != nil {
			return nil, err
		}
		r.Database, r.Run, r.Step, r.Rows = string(store.Dialect()), n, "upload", int64(want.good+want.rejected)
		r.RowsPerS = float64(r.Rows) / r.Seconds
		out = append(out, r)

		var b result
		if withBaseline && store.Dialect() == models.SQLite {
			if b, err = importBaseline(ctx, store, dsn, tmp, file, step.created); err != nil {
				return nil, fmt.Errorf("baseline of %s: %w", step.name, err)
			}
		}
		imp, r, err := importFile(ctx, store, up)
		if err != nil {
			return nil, err
		}
		r.Database, r.Run, r.Step, r.Rows = string(store.Dialect()), n, step.name, imp.RowsRead
		r.RowsPerS = float64(r.Rows) / r.Seconds
		r.Created, r.Updated, r.Skipped, r.Rejected = imp.CreatedCount, imp.UpdatedCount, imp.SkippedCount, imp.RejectedCount
		got := [5]int64{imp.RowsRead, imp.CreatedCount, imp.UpdatedCount, imp.SkippedCount, imp.RejectedCount}
		exp := [5]int64{int64(want.good + want.rejected), step.created, step.updated, step.skipped, int64(want.rejected)}
		r.Check = "ok"
		if imp.Status != models.ImportSucceeded {
			r.Check = fmt.Sprintf("import %s: %s", imp.Status, imp.Error)
		} else if got != exp {
			r.Check = fmt.Sprintf("read/created/updated/skipped/rejected %v, want %v", got, exp)
		} else if total, err := store.CountRecipients(ctx); err != nil {
			return nil, err
		} else if total != int64(want.good) {
			r.Check = fmt.Sprintf("%d recipients stored, want %d", total, want.good)
		}
		ratio := ""
		if b.Seconds > 0 {
			r.Baseline, r.BaselineRSSMB, r.Ratio = b.Seconds, b.PeakRSSMB, r.Seconds/b.Seconds
			ratio = fmt.Sprintf(", sqlite3 %.1fs, ratio %.2f", b.Seconds, r.Ratio)
			if b.Check != "ok" && r.Check == "ok" {
				r.Check = "baseline: " + b.Check
			}
		}
		out = append(out, r)
		fmt.Fprintf(os.Stderr, "abbench: %s run %d: %s %.1fs, %s %.1fs%s\n", store.Dialect(), n, "upload", out[len(out)-2].Seconds, step.name, r.Seconds, ratio)
	}
	return out, nil
}

func upload(ctx context.Context, store *models.Store, file string) (*models.Upload, result, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, result{}, err
	}
	defer f.Close()
	var up *models.Upload
	r, err := timed(func() error {
		var err error
		up, err = store.CreateUpload(ctx, models.Actor{Name: "abbench"}, filepath.Base(file), f, 1<<40)
		return err
	})
	if err != nil {
		return nil, r, fmt.Errorf("upload: %w", err)
	}
	r.Bytes, r.Check = up.Size, "ok"
	return up, r, nil
}

func importFile(ctx context.Context, store *models.Store, up *models.Upload) (*models.RecipientImport, result, error) {
	head, err := store.UploadHead(ctx, up.ID, importer.SniffBytes)
	if err != nil {
		return nil, result{}, err
	}
	pv, err := importer.Sniff(head, 0)
	if err != nil {
		return nil, result{}, err
	}
	settings := models.ImportSettings{Delimiter: string(pv.Delimiter), Header: pv.Header, UpdateExisting: true}
	for _, c := range importer.AutoMap(pv.Header) {
		settings.Mapping = append(settings.Mapping, string(c))
	}
	uploadID := up.ID
	imp, err := store.CreateImport(ctx, models.Actor{Name: "abbench"},
		&models.RecipientImport{UploadID: &uploadID, FileName: up.FileName, TotalBytes: up.Size}, settings, models.ImportTarget{}, nil)
	if err != nil {
		return nil, result{}, err
	}
	r, err := timed(func() error {
		done, err := importer.Run(ctx, store, imp.ID, 0)
		if err == nil && !done {
			err = errors.New("the import did not finish")
		}
		return err
	})
	if err != nil {
		return nil, r, fmt.Errorf("import: %w", err)
	}
	r.Bytes = up.Size
	imp, err = store.ImportByID(ctx, imp.ID)
	return imp, r, err
}

// expected is what the generator knows the import must find.
type expected struct {
	good     int // distinct e-mails imported
	rejected int // bad e-mail or visitor ID, duplicate e-mail, CRM ID of another row
}

var (
	firstNames = []string{"Ana", "Bruno", "Chloé", "David", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas", "Kenji", "Léa", "Mateo", "Nora", "Oskar", "Priya"}
	lastNames  = []string{"Alves", "Bernard", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jansen", "Kowalski", "Lambert", "Moreau", "Nakamura"}
	domains    = []string{"example.com", "mail.example.org", "example.net", "corp.example.io"}
)

// generate writes a CSV file of rows data rows: 80% with a visitor ID, 60%
// with a CRM ID, about 3% rejected for a bad e-mail or visitor ID, an e-mail
// repeated from an earlier line (in another case) or a CRM ID an earlier line
// gives to another e-mail. It is deterministic for a seed.
func generate(path string, rows int, seed uint64) (expected, error) {
	f, err := os.Create(path)
	if err != nil {
		return expected{}, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var exp expected
	crms := 0 // CRM IDs C-0000001 ... given so far
	email := func(n int, mixed bool) string {
		first, last := firstNames[n%len(firstNames)], lastNames[(n/len(firstNames))%len(lastNames)]
		s := fmt.Sprintf("%s.%s.%d@%s", first, last, n, domains[n%len(domains)])
		if !mixed {
			s = strings.ToLower(s)
		}
		return s
	}
	visitorID := func() string {
		return fmt.Sprintf("%019d%019d", rng.Uint64N(1e19), rng.Uint64N(1e19))
	}
	w.WriteString("email,firstName,lastName,crmId,visitorId\n")
	for line := 2; line < rows+2; line++ {
		var cells [5]string
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		switch k := rng.IntN(1000); {
		case k < 10: // not an e-mail
			cells = [5]string{fmt.Sprintf("%s.%s.%d.example.com", first, last, line), first, last, "", visitorID()}
			exp.rejected++
		case k < 20: // a visitor ID that is too short
			cells = [5]string{fmt.Sprintf("short.ecid.%d@example.com", line), first, last, "", visitorID()[:20]}
			exp.rejected++
		case k < 25 && exp.good > 0: // the e-mail of an earlier line
			cells = [5]string{email(rng.IntN(exp.good), true), first, last, "", ""}
			exp.rejected++
		case k < 30 && crms > 0: // an earlier line's CRM ID for another e-mail
			cells = [5]string{fmt.Sprintf("crm.thief.%d@example.com", line), first, last, fmt.Sprintf("C-%07d", 1+rng.IntN(crms)), ""}
			exp.rejected++
		default:
			cells[0] = email(exp.good, rng.IntN(10) == 0)
			exp.good++
			cells[1], cells[2] = first, last
			switch r := rng.IntN(100); {
			case r < 5:
				cells[1] = "" // an empty cell: nothing to store
			case r < 7:
				cells[2] = `"` + last + `, Jr."` // a quoted cell with the delimiter
			}
			if rng.IntN(10) < 6 {
				crms++
				cells[3] = fmt.Sprintf("C-%07d", crms)
			}
			if rng.IntN(10) < 8 {
				cells[4] = visitorID()
			}
		}
		w.WriteString(strings.Join(cells[:], ","))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return expected{}, err
	}
	return exp, f.Close()
}
