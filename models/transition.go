package models

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// idBitmap is a set of recipient ids in (lo, hi]: bit i (byte i/8, least
// significant bit first, as PostgreSQL's get_bit numbers them) stands for
// id lo+1+i.
type idBitmap []byte

func newIDBitmap(lo, hi int64) idBitmap { return make(idBitmap, (hi-lo+7)/8) }

// setOffsets sets the bits listed in a comma-separated list of offsets
// below width, as the databases' string aggregates give them.
func (b idBitmap) setOffsets(list string, width int64) error {
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		list = rest
		i, err := strconv.ParseUint(item, 10, 63)
		if err != nil || i >= uint64(width) {
			return fmt.Errorf("offset %q is outside the batch", item)
		}
		b[i>>3] |= 1 << (i & 7)
	}
	return nil
}

func (b idBitmap) count() int64 {
	var n int
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}

// and keeps only the bits also set in o.
func (b idBitmap) and(o idBitmap) {
	for i := range b {
		if i < len(o) {
			b[i] &= o[i]
		} else {
			b[i] = 0
		}
	}
}

// andNot clears the bits set in o.
func (b idBitmap) andNot(o idBitmap) {
	for i := range min(len(b), len(o)) {
		b[i] &^= o[i]
	}
}

// ids appends the ids of the set above after, in order, until out holds
// limit ids.
func (b idBitmap) ids(lo, after int64, out []int64, limit int) []int64 {
	start := max(after-lo, 0) // the offset of the first id above after
	for i := start >> 3; i < int64(len(b)) && len(out) < limit; i++ {
		x := b[i]
		if i == start>>3 {
			x &^= 1<<(start&7) - 1
		}
		for x != 0 && len(out) < limit {
			bit := int64(bits.TrailingZeros8(x))
			out = append(out, lo+1+i*8+bit)
			x &= x - 1
		}
	}
	return out
}

// offsetsAgg is the SQL aggregate of the offsets expr (a recipient id minus
// the batch's lo) as a comma-separated list, for idBitmap.setOffsets.
func (s *Store) offsetsAgg(expr string) string {
	if s.dialect == Postgres {
		return "COALESCE(string_agg(CAST(" + expr + " AS TEXT), ','), '')"
	}
	return "COALESCE(group_concat(" + expr + "), '')"
}

// idsFromJSON is the SQL of the ids in a JSON array (?), for statements that
// take a batch of ids decoded from a bitmap.
func (s *Store) idsFromJSON() string {
	if s.dialect == Postgres {
		return "SELECT CAST(jsonb_array_elements_text(CAST(? AS jsonb)) AS BIGINT)"
	}
	return "SELECT value FROM json_each(?)"
}

func idsJSON(ids []int64) string {
	var b strings.Builder
	b.Grow(len(ids) * 8)
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// runTransition is one batch of a run's transitions.
type runTransition struct {
	RunID    int64
	Lo, Hi   int64
	Targeted []byte
	Result   []byte
}

func (runTransition) TableName() string { return "run_transitions" }

// set is the transition's bitmap: Result, or Complement (targeted and not
// exported).
func (t *runTransition) set(result bool) idBitmap {
	if result {
		return t.Result
	}
	out := idBitmap(append([]byte(nil), t.Targeted...))
	out.andNot(t.Result)
	return out
}

// TransitionIDs returns up to limit ids of a transition's recipients above
// after, in order: Result or Complement, as the run recorded them.
func (s *Store) TransitionIDs(ctx context.Context, runID int64, result bool, after int64, limit int) ([]int64, error) {
	var out []int64
	for len(out) < limit {
		var batches []runTransition
		// A few batches at a time: each holds up to 500,000 recipients.
		if err := s.q(ctx).Where("run_id = ? AND hi > ?", runID, after).Order("lo").Limit(4).Find(&batches).Error; err != nil {
			return nil, fmt.Errorf("read the transition: %w", err)
		}
		if len(batches) == 0 {
			break
		}
		for i := range batches {
			t := &batches[i]
			out = t.set(result).ids(t.Lo, after, out, limit)
			after = t.Hi
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
