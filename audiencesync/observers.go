package audiencesync

import "audiencebridge/models"

// Observers tells several observers of each ended run, in order: the
// metrics and the notifications both watch the sync engine.
type Observers []Observer

// RunFinished tells every observer.
func (o Observers) RunFinished(r *models.Run) {
	for _, ob := range o {
		if ob != nil {
			ob.RunFinished(r)
		}
	}
}
