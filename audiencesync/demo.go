package audiencesync

import (
	"context"
	"fmt"

	"audiencebridge/library"
	"audiencebridge/models"
)

// demoAudience is the demo segment the demo's shared-audience list follows.
const demoAudience = "Returning visitors"

// SeedDemo adds, when the console has no shared-audience list yet, one that
// follows a demo audience, and queues its first sync: demo mode then shows
// a synchronised list and its run history from the start.
func (s *Service) SeedDemo(ctx context.Context) error {
	existing, err := s.Store.AllSharedAudienceLists(ctx, 1)
	if err != nil || len(existing) > 0 {
		return err
	}
	lib, err := s.importLibrary(ctx)
	if err != nil {
		return err
	}
	page, err := lib.Segments(ctx, library.Query{Search: demoAudience, PageSize: 1})
	if err != nil || len(page.List) == 0 {
		return err
	}
	_, _, err = s.CreateList(ctx, models.SystemActor("demo"), models.SharedAudienceInput{SegmentID: page.List[0].SID})
	if err != nil {
		return fmt.Errorf("create the demo shared-audience list: %w", err)
	}
	return nil
}
