package library

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
)

// dropPoll is how often the drop folder is looked at; tests shorten it.
var dropPoll = 2 * time.Second

// Sub-folders of the drop folder that processed files move to.
const (
	DropDone   = "done"
	DropFailed = "failed"
)

// partialSuffixes mark files still being uploaded under a temporary name.
var partialSuffixes = []string{".part", ".partial", ".filepart", ".tmp", ".crdownload", "~"}

// WatchDropFolder processes the batch files dropped into dir until ctx ends,
// then returns nil. Every poll it lists dir's regular files (not dotfiles,
// not temporary upload names such as *.part, never a symbolic link, nothing
// outside dir); a file whose size and time did not change since the last
// poll is processed, in upload and split order, and moved to done/ (read to
// its end) or failed/ (refused, broken off, or stopped by a fault) with
// <name>.report.json beside it. A file still being written slowly can look
// finished: uploaders should write under a dot or .part name and rename.
func WatchDropFolder(ctx context.Context, dir string, proc *BatchProcessor, log *slog.Logger) error {
	w, err := openDropFolder(dir, proc, log)
	if err != nil {
		return err
	}
	defer w.root.Close()
	tick := time.NewTicker(dropPoll)
	defer tick.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// openDropFolder opens dir, confined to it, with its done/ and failed/.
func openDropFolder(dir string, proc *BatchProcessor, log *slog.Logger) (*dropWatcher, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the drop folder: %w", err)
	}
	for _, sub := range []string{DropDone, DropFailed} {
		if err := root.Mkdir(sub, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, errors.Join(fmt.Errorf("create %s in the drop folder: %w", sub, err), root.Close())
		}
	}
	return &dropWatcher{root: root, proc: proc, log: log.With("drop_folder", dir), seen: map[string]dropState{}}, nil
}

type dropWatcher struct {
	root *os.Root
	proc *BatchProcessor
	log  *slog.Logger
	seen map[string]dropState
}

// dropState is a file as the last poll saw it.
type dropState struct {
	size int64
	mod  time.Time
}

func (w *dropWatcher) poll(ctx context.Context) {
	entries, err := fs.ReadDir(w.root.FS(), ".")
	if err != nil {
		w.log.Error("list the drop folder", "error", err)
		return
	}
	now := map[string]dropState{}
	var ready []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || slices.ContainsFunc(partialSuffixes, func(s string) bool {
			return strings.HasSuffix(name, s)
		}) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		st := dropState{size: info.Size(), mod: info.ModTime()}
		now[name] = st
		if prev, ok := w.seen[name]; ok && prev == st {
			ready = append(ready, name)
		}
	}
	w.seen = now
	slices.SortFunc(ready, compareDropped)
	for _, name := range ready {
		if ctx.Err() != nil {
			return
		}
		w.process(ctx, name)
		delete(w.seen, name)
	}
}

// compareDropped orders files by upload, then split number; names that are
// not batch file names come last.
func compareDropped(a, b string) int {
	na, errA := ParseBatchName(a)
	nb, errB := ParseBatchName(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return 1
	case errB != nil:
		return -1
	}
	return cmp.Or(na.Time.Compare(nb.Time), strings.Compare(na.Upload(), nb.Upload()), cmp.Compare(na.Part, nb.Part), strings.Compare(a, b))
}

func (w *dropWatcher) process(ctx context.Context, name string) {
	f, err := w.root.Open(name)
	if err != nil {
		w.log.Error("open a dropped file", "file", name, "error", err)
		return
	}
	rep, err := w.proc.Process(ctx, name, f)
	if cerr := f.Close(); cerr != nil {
		w.log.Warn("close a dropped file", "file", name, "error", cerr)
	}
	if ctx.Err() != nil {
		// Shutting down: the file stays and is processed again next time.
		w.log.Info("batch file left for the next start", "file", name)
		return
	}
	dest := DropDone
	var refused *FileError
	var broken *ReadError
	switch {
	case err == nil:
	case errors.As(err, &refused):
		dest = DropFailed
		rep.Errors = append(rep.Errors, LineError{Line: 0, Reason: refused.Message})
	case errors.As(err, &broken):
		dest = DropFailed
	default:
		dest = DropFailed
		w.log.Error("process a dropped file", "file", name, "error", err)
		rep.Errors = append(rep.Errors, LineError{Line: 0, Reason: "the file was not processed to its end because of an internal error: drop it again to retry"})
	}
	if err := w.move(name, dest, rep); err != nil {
		w.log.Error("move a dropped file", "file", name, "to", dest, "error", err)
		return
	}
	w.log.Info("batch file processed", "file", name, "to", dest, "lines", rep.Lines, "applied", rep.Applied, "rejected", rep.Rejected)
}

// move writes the report into dest and then moves the file beside it, so
// that a file in done/ or failed/ always has its report.
func (w *dropWatcher) move(name, dest string, rep BatchReport) error {
	body, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	tmp := dest + "/." + name + ".report.json.tmp"
	if err := w.root.WriteFile(tmp, append(body, '\n'), 0o640); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if err := w.root.Rename(tmp, dest+"/"+name+".report.json"); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return w.root.Rename(name, dest+"/"+name)
}
