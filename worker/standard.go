package worker

import (
	"github.com/riverqueue/river"

	"audiencebridge/importer"
	"audiencebridge/models"
)

// NewStandard builds the engine with every job the console runs.
func NewStandard(store *models.Store, opts Options) (*Engine, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &importer.Worker{Store: store})
	return New(store, workers, opts)
}
