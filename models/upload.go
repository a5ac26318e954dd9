package models

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Upload is a file an operator sent, kept in the database in chunks so a
// worker on any machine can read it, streamed in bounded memory.
type Upload struct {
	ID        int64
	FileName  string
	Size      int64
	CreatedBy *int64
	CreatedAt time.Time
}

// TableName tells GORM where uploads live.
func (Upload) TableName() string { return "uploads" }

type uploadChunk struct {
	UploadID int64
	Seq      int
	Data     []byte
}

func (uploadChunk) TableName() string { return "upload_chunks" }

// UploadChunkSize is the size of each stored piece of an upload.
const UploadChunkSize = 1 << 20

// ErrUploadTooLarge is returned when a file passes the upload limit.
var ErrUploadTooLarge = errors.New("the file is larger than the upload limit")

// CleanFileName keeps the base name of an uploaded file, for display only:
// it is never used as a path.
func CleanFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" || name == "" || !utf8.ValidString(name) {
		return "upload.csv"
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// CreateUpload stores a file read from r; more than maxBytes fails with
// ErrUploadTooLarge and stores nothing.
func (s *Store) CreateUpload(ctx context.Context, actor Actor, fileName string, r io.Reader, maxBytes int64) (*Upload, error) {
	up := &Upload{FileName: CleanFileName(fileName), CreatedBy: actor.OperatorID, CreatedAt: s.Now()}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Create(up).Error; err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
		buf := make([]byte, UploadChunkSize)
		for seq := 0; ; seq++ {
			n, rerr := io.ReadFull(r, buf)
			if n > 0 {
				up.Size += int64(n)
				if up.Size > maxBytes {
					return ErrUploadTooLarge
				}
				if err := tx.q(ctx).Create(&uploadChunk{UploadID: up.ID, Seq: seq, Data: bytes.Clone(buf[:n])}).Error; err != nil {
					return fmt.Errorf("store upload: %w", err)
				}
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			if rerr != nil {
				return fmt.Errorf("read the upload: %w", rerr)
			}
		}
		return tx.q(ctx).Model(&Upload{}).Where("id = ?", up.ID).Update("size", up.Size).Error
	})
	if err != nil {
		return nil, err
	}
	return up, nil
}

// UploadByID loads an upload's description.
func (s *Store) UploadByID(ctx context.Context, id int64) (*Upload, error) {
	var up Upload
	if err := s.q(ctx).First(&up, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("upload #%d", id))
	}
	return &up, nil
}

// UploadHead returns the first bytes of an upload, at most n.
func (s *Store) UploadHead(ctx context.Context, id int64, n int) ([]byte, error) {
	var out []byte
	for seq := 0; len(out) < n; seq++ {
		var ch uploadChunk
		err := s.q(ctx).Where("upload_id = ? AND seq = ?", id, seq).First(&ch).Error
		if errors.Is(notFound(err, ""), ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read upload: %w", err)
		}
		out = append(out, ch.Data...)
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// OpenUpload streams an upload chunk by chunk.
func (s *Store) OpenUpload(ctx context.Context, id int64) io.Reader {
	return &uploadReader{ctx: ctx, store: s, id: id}
}

type uploadReader struct {
	ctx   context.Context
	store *Store
	id    int64
	seq   int
	buf   []byte
	done  bool
}

func (u *uploadReader) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		if u.done {
			return 0, io.EOF
		}
		var ch uploadChunk
		err := u.store.q(u.ctx).Where("upload_id = ? AND seq = ?", u.id, u.seq).First(&ch).Error
		if errors.Is(notFound(err, ""), ErrNotFound) {
			u.done = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read upload chunk %d: %w", u.seq, err)
		}
		u.seq++
		u.buf = ch.Data
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

// DeleteUpload removes an upload and its chunks.
func (s *Store) DeleteUpload(ctx context.Context, id int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Where("upload_id = ?", id).Delete(&uploadChunk{}).Error; err != nil {
			return fmt.Errorf("delete upload: %w", err)
		}
		return tx.q(ctx).Delete(&Upload{}, id).Error
	})
}
