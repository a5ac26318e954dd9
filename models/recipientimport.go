package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ImportStatus is where a recipient import stands.
type ImportStatus string

// The statuses of an import.
const (
	ImportQueued    ImportStatus = "queued"
	ImportRunning   ImportStatus = "running"
	ImportSucceeded ImportStatus = "succeeded"
	ImportFailed    ImportStatus = "failed"
)

// ImportSettings are the operator's choices for an import.
type ImportSettings struct {
	Delimiter      string   `json:"delimiter"`
	Header         []string `json:"header"`
	Mapping        []string `json:"mapping"`
	UpdateExisting bool     `json:"updateExisting"`
}

// RecipientImport is one import of recipients from a CSV file, with its
// progress and its counts.
type RecipientImport struct {
	ID             int64
	UploadID       *int64
	FileName       string
	Source         string
	SettingsJSON   string
	ListID         *int64
	Status         ImportStatus
	TotalBytes     int64
	ProcessedBytes int64
	LinesDone      int64
	RowsRead       int64
	CreatedCount   int64
	UpdatedCount   int64
	SkippedCount   int64
	RejectedCount  int64
	Error          string
	CreatedBy      *int64
	QueuedAt       time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
}

// TableName tells GORM where imports live.
func (RecipientImport) TableName() string { return "recipient_imports" }

// Settings decodes the operator's choices.
func (i *RecipientImport) Settings() (ImportSettings, error) {
	var st ImportSettings
	if err := json.Unmarshal([]byte(i.SettingsJSON), &st); err != nil {
		return st, fmt.Errorf("decode import settings: %w", err)
	}
	return st, nil
}

// Finished reports whether the import has ended, well or not.
func (i *RecipientImport) Finished() bool {
	return i.Status == ImportSucceeded || i.Status == ImportFailed
}

// Percent is the share of the file read so far, 0 to 100.
func (i *RecipientImport) Percent() int {
	if i.Status == ImportSucceeded {
		return 100
	}
	if i.TotalBytes <= 0 {
		return 0
	}
	p := int(i.ProcessedBytes * 100 / i.TotalBytes)
	return min(max(p, 0), 99)
}

// ImportTarget says which regular list receives the imported recipients:
// none, an existing one, or a new one with this label.
type ImportTarget struct {
	ListID       int64
	NewListLabel string
}

// CreateImport records an import and, in the same transaction, lets enqueue
// schedule the job that runs it (nil runs nothing: the caller runs it).
func (s *Store) CreateImport(ctx context.Context, actor Actor, imp *RecipientImport, settings ImportSettings, target ImportTarget,
	enqueue func(tx *Store, importID int64) error) (*RecipientImport, error) {
	raw, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("encode import settings: %w", err)
	}
	imp.SettingsJSON, imp.Status, imp.QueuedAt, imp.CreatedBy = string(raw), ImportQueued, s.Now(), actor.OperatorID
	if imp.Source == "" {
		imp.Source = "console"
	}
	err = s.Tx(ctx, func(tx *Store) error {
		switch {
		case target.NewListLabel != "":
			l, err := tx.CreateList(ctx, actor, ListInput{Label: target.NewListLabel, Description: "Imported from " + imp.FileName})
			if err != nil {
				return err
			}
			imp.ListID = &l.ID
		case target.ListID != 0:
			l, err := tx.regularList(ctx, target.ListID)
			if err != nil {
				return err
			}
			imp.ListID = &l.ID
		}
		if err := tx.q(ctx).Create(imp).Error; err != nil {
			return fmt.Errorf("record import: %w", err)
		}
		if enqueue != nil {
			return enqueue(tx, imp.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return imp, nil
}

// ImportByID loads an import.
func (s *Store) ImportByID(ctx context.Context, id int64) (*RecipientImport, error) {
	var imp RecipientImport
	if err := s.q(ctx).First(&imp, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("import #%d", id))
	}
	return &imp, nil
}

// ListImports returns the import history, newest first.
func (s *Store) ListImports(ctx context.Context, req PageRequest) (Page[*RecipientImport], error) {
	req = req.Normalize()
	var total int64
	if err := s.q(ctx).Model(&RecipientImport{}).Count(&total).Error; err != nil {
		return Page[*RecipientImport]{}, fmt.Errorf("count imports: %w", err)
	}
	var out []*RecipientImport
	if err := s.q(ctx).Order("queued_at DESC").Order("id DESC").Limit(req.PageSize).Offset(req.Offset()).Find(&out).Error; err != nil {
		return Page[*RecipientImport]{}, fmt.Errorf("list imports: %w", err)
	}
	return NewPage(req, total, out), nil
}

// StartImport marks an import as running (again, after a retry).
func (s *Store) StartImport(ctx context.Context, id int64) (*RecipientImport, error) {
	now := s.Now()
	err := s.q(ctx).Model(&RecipientImport{}).Where("id = ? AND status IN ?", id, []ImportStatus{ImportQueued, ImportRunning}).
		Updates(map[string]any{"status": ImportRunning, "started_at": gormExprCoalesce("started_at", now)}).Error
	if err != nil {
		return nil, fmt.Errorf("start import: %w", err)
	}
	return s.ImportByID(ctx, id)
}

// FinishImport ends an import that read its whole file: the list's size is
// recounted and the uploaded file is deleted. Its staging rows are left to
// PruneImportStaging: deleting a million of them in this transaction held
// the database's write lock for seconds, and the operator waited for it.
func (s *Store) FinishImport(ctx context.Context, id int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		imp, err := tx.ImportByID(ctx, id)
		if err != nil {
			return err
		}
		if imp.ListID != nil {
			if err := tx.refreshListSize(ctx, *imp.ListID); err != nil {
				return err
			}
		}
		if err := tx.q(ctx).Model(&RecipientImport{}).Where("id = ?", id).Updates(map[string]any{
			"status": ImportSucceeded, "finished_at": tx.Now(), "processed_bytes": imp.TotalBytes, "upload_id": nil}).Error; err != nil {
			return fmt.Errorf("finish import: %w", err)
		}
		if imp.UploadID != nil {
			return tx.DeleteUpload(ctx, *imp.UploadID)
		}
		return nil
	})
}

// FailImport ends an import with an error the operator can read; what was
// applied before stays, and the staging rows are left to
// PruneImportStaging.
func (s *Store) FailImport(ctx context.Context, id int64, reason string) error {
	return s.Tx(ctx, func(tx *Store) error {
		imp, err := tx.ImportByID(ctx, id)
		if err != nil {
			return err
		}
		if imp.ListID != nil {
			if err := tx.refreshListSize(ctx, *imp.ListID); err != nil {
				return err
			}
		}
		return tx.q(ctx).Model(&RecipientImport{}).Where("id = ?", id).
			Updates(map[string]any{"status": ImportFailed, "finished_at": tx.Now(), "error": reason}).Error
	})
}

// pruneChunk is how many staging lines one transaction of
// PruneImportStaging deletes: a few tens of milliseconds of write lock.
const pruneChunk = 20_000

// PruneImportStaging deletes the staging rows of ended imports, a chunk of
// lines per transaction so that other writers get the database between
// chunks, until none are left or about limit rows are gone. It returns how
// many it deleted.
func (s *Store) PruneImportStaging(ctx context.Context, limit int64) (int64, error) {
	var deleted int64
	for deleted < limit {
		// An ended import that still has staging rows, found by a probe of
		// the staging key per import, and its first line.
		var next struct {
			ImportID int64
			Line     int64
		}
		err := s.q(ctx).Raw(`SELECT i.id AS import_id, (SELECT MIN(r.line) FROM import_rows r WHERE r.import_id = i.id) AS line
			FROM recipient_imports i WHERE i.status IN ? AND EXISTS (SELECT 1 FROM import_rows r WHERE r.import_id = i.id)
			ORDER BY i.id LIMIT 1`, []ImportStatus{ImportSucceeded, ImportFailed}).Scan(&next).Error
		if err != nil {
			return deleted, fmt.Errorf("find staging rows to prune: %w", err)
		}
		if next.ImportID == 0 {
			return deleted, nil
		}
		res := s.q(ctx).Where("import_id = ? AND line < ?", next.ImportID, next.Line+pruneChunk).Delete(&importRow{})
		if res.Error != nil {
			return deleted, fmt.Errorf("prune staging rows: %w", res.Error)
		}
		deleted += res.RowsAffected
	}
	return deleted, nil
}

// ImportRejection is a row that was not imported, with why.
type ImportRejection struct {
	ImportID int64
	Line     int64
	Reason   string
	Raw      string // the row's cells as a JSON array of strings
}

// TableName tells GORM where rejected rows live.
func (ImportRejection) TableName() string { return "import_rejections" }

// Fields decodes the row's cells.
func (r *ImportRejection) Fields() []string {
	var f []string
	_ = json.Unmarshal([]byte(r.Raw), &f) // stored by us as a JSON array; a bad one shows no cells
	return f
}

// ImportRejections returns the first rejected rows of an import by line.
func (s *Store) ImportRejections(ctx context.Context, id int64, limit int) ([]*ImportRejection, error) {
	var out []*ImportRejection
	err := s.q(ctx).Where("import_id = ?", id).Order("line").Limit(limit).Find(&out).Error
	return out, err
}

// EachImportRejection calls fn for every rejected row in line order, reading
// them in batches so a million rejections stream in bounded memory.
func (s *Store) EachImportRejection(ctx context.Context, id int64, fn func(*ImportRejection) error) error {
	after := int64(-1)
	for {
		var batch []*ImportRejection
		if err := s.q(ctx).Where("import_id = ? AND line > ?", id, after).Order("line").Limit(2000).Find(&batch).Error; err != nil {
			return fmt.Errorf("read rejected rows: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		for _, r := range batch {
			if err := fn(r); err != nil {
				return err
			}
		}
		after = batch[len(batch)-1].Line
	}
}
