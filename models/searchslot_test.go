package models

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSearchSlotsBoundConcurrentSearches takes every slot, then checks
// that one more search waits (and gives up with its request), and that a
// released slot lets the next one in.
func TestSearchSlotsBoundConcurrentSearches(t *testing.T) {
	s := &Store{searches: make(chan struct{}, 2)}
	ctx := context.Background()
	first, err := s.searchSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.searchSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.searchSlot(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third search with both slots taken: %v, want it to wait until its request ends", err)
	}
	got := make(chan error, 1)
	go func() {
		release, err := s.searchSlot(ctx)
		if err == nil {
			release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a search got a slot while both were taken (%v)", err)
	case <-time.After(20 * time.Millisecond):
	}
	first()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a released slot did not let the waiting search in")
	}
	second()
	if len(s.searches) != 0 {
		t.Errorf("%d slots still taken after every search ended", len(s.searches))
	}
	if release, err := (&Store{}).searchSlot(ctx); err != nil {
		t.Errorf("a store without slots (a transaction's): %v", err)
	} else {
		release()
	}
}
