package importer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"audiencebridge/importer"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// benchRows is the size of the file BenchmarkImport imports: ten batches,
// enough for the per-batch costs to show. `go run ./cmd/abbench` measures a
// million rows.
const benchRows = 50_000

// BenchmarkImport imports a file of benchRows rows into a new database
// ("new": every good row creates a recipient) and again into a database
// that has them all ("existing": the update path, where nothing changes).
// It runs on PostgreSQL when AB_TEST_POSTGRES is set.
func BenchmarkImport(b *testing.B) {
	file, good := benchFile(benchRows)
	b.Run("new", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			store := dbtest.New(b)
			b.StartTimer()
			benchImport(b, store, file, int64(good), 0)
		}
		b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("existing", func(b *testing.B) {
		store := dbtest.New(b)
		benchImport(b, store, file, int64(good), 0)
		b.ResetTimer()
		for range b.N {
			benchImport(b, store, file, 0, int64(good))
		}
		b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// benchImport uploads file and imports it to the end with importer.Run,
// checking the counts.
func benchImport(b *testing.B, store *models.Store, file []byte, created, skipped int64) {
	b.Helper()
	ctx := context.Background()
	actor := models.Actor{Name: "bench"}
	up, err := store.CreateUpload(ctx, actor, "bench.csv", bytes.NewReader(file), int64(len(file)))
	if err != nil {
		b.Fatal(err)
	}
	header := []string{"email", "firstName", "lastName", "crmId", "visitorId"}
	settings := models.ImportSettings{Delimiter: ",", Header: header, Mapping: header, UpdateExisting: true}
	imp, err := store.CreateImport(ctx, actor, &models.RecipientImport{UploadID: &up.ID, FileName: up.FileName, TotalBytes: up.Size},
		settings, models.ImportTarget{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if done, err := importer.Run(ctx, store, imp.ID, 0); err != nil || !done {
		b.Fatalf("import: done %v, %v", done, err)
	}
	if imp, err = store.ImportByID(ctx, imp.ID); err != nil {
		b.Fatal(err)
	}
	if imp.CreatedCount != created || imp.UpdatedCount != 0 || imp.SkippedCount != skipped || imp.RejectedCount != benchRows-created-skipped {
		b.Fatalf("created %d, updated %d, skipped %d, rejected %d; want %d created, %d skipped",
			imp.CreatedCount, imp.UpdatedCount, imp.SkippedCount, imp.RejectedCount, created, skipped)
	}
}

// benchFile returns a CSV file of rows data rows, how cmd/abbench writes
// them in short: 60% with a CRM ID, 80% with a visitor ID, one in 50
// rejected (a bad e-mail, or the e-mail of an earlier line), and how many
// rows are good.
func benchFile(rows int) ([]byte, int) {
	var buf bytes.Buffer
	buf.WriteString("email,firstName,lastName,crmId,visitorId\n")
	good := 0
	for i := range rows {
		// Multiplying by a large odd number spreads the addresses over the
		// e-mail indexes the way real files do.
		n := uint64(i)*0x9E3779B97F4A7C15 + 1
		email := fmt.Sprintf("p%016x@example.com", n)
		switch i % 100 {
		case 7:
			email = fmt.Sprintf("not-an-address-%d", i)
		case 42:
			email = fmt.Sprintf("p%016x@example.com", uint64(i/2)*0x9E3779B97F4A7C15+1) // line i/2+2
		default:
			good++
		}
		crm, visitor := "", ""
		if i%5 < 3 {
			crm = fmt.Sprintf("C-%07d", i)
		}
		if i%5 < 4 {
			visitor = fmt.Sprintf("%019d%019d", n%1e19, (n>>7)%1e19)
		}
		fmt.Fprintf(&buf, "%s,First%d,Last%d,%s,%s\n", email, i%97, i%89, crm, visitor)
	}
	return buf.Bytes(), good
}
