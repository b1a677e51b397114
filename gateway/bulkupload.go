package gateway

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// MediaCSV is the body of a streamed bulk upload.
const MediaCSV = "text/csv"

// BulkUploadPath takes a bulk job's CSV as the request body.
const BulkUploadPath = "/v1/notifications/bulk:upload"

// bulkUploadChunk is how much of the body one stream message carries.
const bulkUploadChunk = 64 << 10

// bulkUpload serves POST /v1/notifications/bulk:upload: the text/csv body
// is streamed into UploadBulkJob chunk by chunk as it arrives (the
// gateway never holds the file), with template_id, channel and reference
// from the query and Idempotency-Key from the header. A body that breaks
// off cancels the stream, so the service never takes a cut file for a
// whole one. The job answers 201, as the JSON bulk create does.
func (g *Gateway) bulkUpload(notif notificationv1.NotificationServiceClient) func(http.ResponseWriter, *http.Request, map[string]string) {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if cs, ok := params["charset"]; err != nil || !strings.EqualFold(mt, MediaCSV) || ok && !strings.EqualFold(cs, "utf-8") {
			writeUnsupportedMediaType(w, r, MediaCSV)
			return
		}
		q := r.URL.Query()
		first := &notificationv1.UploadBulkJobRequest{TemplateId: q.Get("template_id"), Channel: q.Get("channel"), Reference: q.Get("reference")}
		if st := stateFrom(r.Context()); st != nil {
			first.IdempotencyKey = st.idempotencyKey
		}
		ctx, cancel := context.WithCancel(g.callContext(r))
		defer cancel()
		stream, err := notif.UploadBulkJob(ctx)
		if err != nil {
			g.writeRaw(w, r, err, "", nil)
			return
		}
		buf := make([]byte, bulkUploadChunk)
		for m := first; ; m = new(notificationv1.UploadBulkJobRequest) {
			n, rerr := io.ReadFull(r.Body, buf)
			if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
				cancel()
				writeError(w, r, status.Error(codes.InvalidArgument, "could not read request body"))
				return
			}
			m.Chunk = buf[:n]
			if serr := stream.Send(m); serr != nil {
				// The service answered before the end (a refusal):
				// CloseAndRecv has its answer.
				break
			}
			if rerr != nil {
				break
			}
		}
		job, err := stream.CloseAndRecv()
		if err != nil {
			g.errorHandler(r.Context(), nil, nil, w, r, err)
			return
		}
		body, err := jsonMarshaler.Marshal(job)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	}
}
