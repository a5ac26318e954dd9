package worker

import "github.com/riverqueue/river/rivertype"

type riverInsert struct{ id int64 }

func wrapInsert(r *rivertype.JobInsertResult, err error) (*riverInsert, error) {
	if err != nil {
		return nil, err
	}
	return &riverInsert{id: r.Job.ID}, nil
}
