package models_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// TestConcurrentCreationsGetDistinctNames: lists and workflows created at
// once with generated internal names all succeed, each with its own name.
func TestConcurrentCreationsGetDistinctNames(t *testing.T) {
	store := dbtest.New(t)
	ctx := context.Background()
	const n = 20
	names := make(chan string, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			l, err := store.CreateList(ctx, models.SystemActor("test"), models.ListInput{Label: fmt.Sprintf("List %d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			names <- l.InternalName
		}()
		go func() {
			defer wg.Done()
			w, err := store.CreateWorkflow(ctx, models.SystemActor("test"), models.WorkflowInput{Label: fmt.Sprintf("Workflow %d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			names <- w.InternalName
		}()
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for name := range names {
		if seen[name] {
			t.Errorf("%s given twice", name)
		}
		seen[name] = true
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct names, want %d", len(seen), 2*n)
	}
}
