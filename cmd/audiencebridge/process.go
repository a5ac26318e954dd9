package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"time"

	"audiencebridge/models"
)

// beatProcess records this process in the database for the diagnostics
// page and refreshes it until the returned stop is called.
func beatProcess(ctx context.Context, store *models.Store, role string, log *slog.Logger) (stop func()) {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := &models.Process{ID: host + "-" + hex.EncodeToString(b), Host: host, PID: os.Getpid(), Role: role}
	if err := store.RegisterProcess(ctx, p); err != nil {
		log.Warn("this process is not shown on the diagnostics page", "error", err)
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(models.ProcessBeat)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := store.BeatProcess(context.WithoutCancel(ctx), p.ID); err != nil {
					log.Warn("process heartbeat not recorded", "error", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = store.StopProcess(stopCtx, p.ID)
	}
}
