package worker

import (
	"github.com/riverqueue/river"

	"audiencebridge/audiencesync"
	"audiencebridge/importer"
	"audiencebridge/models"
)

// NewStandard builds the engine with every job the console runs, and sets
// it as the sync service's job engine.
func NewStandard(store *models.Store, sync *audiencesync.Service, opts Options) (*Engine, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &importer.Worker{Store: store})
	river.AddWorker(workers, &audiencesync.ImportWorker{Service: sync})
	river.AddWorker(workers, &audiencesync.ExportWorker{Service: sync})
	river.AddWorker(workers, &audiencesync.SchedulerWorker{Service: sync})
	river.AddWorker(workers, &audiencesync.WebhookWorker{Service: sync})
	opts.PeriodicJobs = append(opts.PeriodicJobs, audiencesync.PeriodicJobs()...)
	e, err := New(store, workers, opts)
	if err != nil {
		return nil, err
	}
	sync.Jobs = e
	return e, nil
}
