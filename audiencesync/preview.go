package audiencesync

import (
	"context"
	"errors"
	"fmt"

	"audiencebridge/library"
	"audiencebridge/models"
)

// PreviewSample is how many members a preview reads at most: enough for a
// match rate within a point or two, quick on an audience of millions.
const PreviewSample = 50_000

// Preview is what an import would find, before the list is saved.
type Preview struct {
	Segment    library.Segment
	DataSource *models.DataSource
	Counts     models.ImportCounts
	// Exact is false when only the first PreviewSample members were read.
	Exact bool
	// Unrecognized is a few of the members that would not be carried.
	Unrecognized []models.Unrecognized
}

// MatchRate is the share of members read that reconciled.
func (p Preview) MatchRate() float64 {
	if p.Counts.Received == 0 {
		return 0
	}
	return float64(p.Counts.Reconciled) / float64(p.Counts.Received)
}

var errSampled = errors.New("sample complete")

// Preview reconciles an audience's members (all of them, or the first
// PreviewSample) through a data source, changing nothing.
func (s *Service) Preview(ctx context.Context, sid int64, dataSource string) (Preview, error) {
	var v models.ValidationErrors
	if sid <= 0 {
		v.Add("sharedAudienceId", "select a shared audience first")
	}
	if dataSource == "" {
		v.Add("dataSource", "select an AMC data source first")
	}
	if err := v.Err(); err != nil {
		return Preview{}, err
	}
	ds, err := s.Store.DataSourceByInternalName(ctx, dataSource)
	if errors.Is(err, models.ErrNotFound) {
		return Preview{}, models.Invalid("dataSource", "no AMC data source is named %q: choose one in the list", dataSource)
	}
	if err != nil {
		return Preview{}, err
	}
	lib, err := s.importLibrary(ctx)
	if err != nil {
		return Preview{}, err
	}
	seg, err := lib.Segment(ctx, sid)
	if errors.Is(err, models.ErrNotFound) {
		return Preview{}, models.Invalid("sharedAudienceId", "the audience library has no audience %d: select one in the picker", sid)
	}
	if err != nil {
		return Preview{}, err
	}
	stage, err := s.Store.OpenImportStage(ctx, ds.Rule())
	if err != nil {
		return Preview{}, models.Invalid("dataSource", "%v", err)
	}
	defer stage.Close()
	p := Preview{Segment: seg, DataSource: ds, Exact: true}
	err = lib.Members(ctx, sid, func(batch []string) error {
		if room := PreviewSample - int(stage.Received()); len(batch) > room {
			batch = batch[:room]
			p.Exact = false
		}
		if err := stage.Add(ctx, batch); err != nil {
			return err
		}
		if stage.Received() >= PreviewSample {
			if seg.Size > PreviewSample {
				p.Exact = false
			}
			return errSampled
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampled) {
		return Preview{}, fmt.Errorf("read the audience's members: %w", err)
	}
	if err := stage.Reconcile(ctx); err != nil {
		return Preview{}, err
	}
	p.Counts = stage.Counts()
	sample := stage.Sample()
	p.Unrecognized = sample[:min(len(sample), 5)]
	return p, nil
}
