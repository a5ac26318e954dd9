package library

import "time"

// WireSegment is a segment as the /aam/v1 API sends it, times in
// milliseconds since the epoch as Audience Manager sends them. The API's
// handlers and the remote client share it, so both ends agree on the shape.
type WireSegment struct {
	SID             int64  `json:"sid"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	IntegrationCode string `json:"integrationCode"`
	DataSourceID    int64  `json:"dataSourceId"`
	Status          string `json:"status"`
	Source          string `json:"source"`
	Author          string `json:"author"`
	Size            int64  `json:"size"`
	CreateTime      int64  `json:"createTime"`
	UpdateTime      int64  `json:"updateTime"`
}

// Wire is the segment as the API sends it.
func (s Segment) Wire() WireSegment {
	return WireSegment{SID: s.SID, Name: s.Name, Description: s.Description, IntegrationCode: s.IntegrationCode,
		DataSourceID: s.DataSourceID, Status: s.Status, Source: s.Source, Author: s.Author, Size: s.Size,
		CreateTime: s.CreateTime.UnixMilli(), UpdateTime: s.UpdateTime.UnixMilli()}
}

// Segment is the segment the API sent.
func (w WireSegment) Segment() Segment {
	return Segment{SID: w.SID, Name: w.Name, Description: w.Description, IntegrationCode: w.IntegrationCode, DataSourceID: w.DataSourceID,
		Status: w.Status, Source: w.Source, Author: w.Author, Size: w.Size,
		CreateTime: time.UnixMilli(w.CreateTime).UTC(), UpdateTime: time.UnixMilli(w.UpdateTime).UTC()}
}
