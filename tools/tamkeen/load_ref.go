package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/argon2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/store"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	"github.com/tamkeen/tamkeen/services/auth"
)

// The reference scenarios measure, in the same run as a figure, the limit
// it is compared with: what the machine does with the same work and
// nothing around it.

// setupRefHealthz: the gateway's cheapest answer, on its ops listener.
func setupRefHealthz(ctx context.Context, env *loadEnv) (op, func(), error) {
	u := strings.TrimSuffix(env.cfg.OpsURL, "/") + "/healthz"
	get := func(ctx context.Context, c *http.Client) outcome {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return transportFailure
		}
		resp, _, err := send(c, req)
		if err != nil {
			return transportFailure
		}
		return httpOutcome(resp.StatusCode, http.StatusOK)
	}
	if o := get(ctx, env.client); !o.ok {
		return nil, nil, errors.New("GET " + u + " = " + o.status + "; want 200")
	}
	return func(ctx context.Context, w *worker) outcome { return get(ctx, w.client) }, nil, nil
}

// setupRefSQLiteCommit: one INSERT per transaction on a SQLite file in a
// temporary directory, opened by libs/store as the services open theirs
// (WAL, the same pragmas and transaction mode).
func setupRefSQLiteCommit(ctx context.Context, _ *loadEnv) (op, func(), error) {
	dir, remove, err := loadTempDir()
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: filepath.Join(dir, "ref.db")})
	if err != nil {
		remove()
		return nil, nil, err
	}
	cleanup := func() { db.Close(); remove() }
	if _, err := db.ExecContext(ctx, `CREATE TABLE ref_commits (id INTEGER PRIMARY KEY, worker INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL)`); err != nil {
		cleanup()
		return nil, nil, err
	}
	// About the size of a payment row.
	body := strings.Repeat("x", 200)
	return func(ctx context.Context, w *worker) outcome {
		n := w.next()
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO ref_commits (worker, seq, body) VALUES ($1, $2, $3)`, w.id, n, body)
			return err
		})
		if err != nil {
			return outcome{status: "error"}
		}
		return outcome{status: "ok", ok: true, items: 1}
	}, cleanup, nil
}

// setupRefArgon2id: argon2id with the parameters of auth's production
// hasher (auth.DefaultHashParams) on a password-sized input.
func setupRefArgon2id(context.Context, *loadEnv) (op, func(), error) {
	p := auth.DefaultHashParams
	return func(_ context.Context, w *worker) outcome {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return outcome{status: "error"}
		}
		_ = argon2.IDKey([]byte("olive-harvest-2026"), salt, p.Time, p.MemoryKiB, p.Threads, 32)
		return outcome{status: "ok", ok: true, items: 1}
	}, nil, nil
}

// setupRefGRPCRead: the read scenario's call (GetPayment with the app's
// token) straight to the payment enabler's gRPC address, without the
// gateway.
func setupRefGRPCRead(ctx context.Context, env *loadEnv) (op, func(), error) {
	if env.cfg.GRPCAddr == "" {
		return nil, nil, configProblem("grpc-addr", "ref-grpc-read needs the payment enabler's gRPC address")
	}
	id, err := env.readPayment(ctx)
	if err != nil {
		return nil, nil, err
	}
	cc, err := grpc.NewClient(env.cfg.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	client := paymentv1.NewPaymentServiceClient(cc)
	get := func(ctx context.Context, c *http.Client) outcome {
		app, err := env.appToken(ctx, c)
		if err != nil {
			return transportFailure
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+app)
		if _, err := client.GetPayment(ctx, &paymentv1.GetPaymentRequest{Id: id}); err != nil {
			return outcome{status: "grpc " + status.Code(err).String()}
		}
		return outcome{status: "grpc OK", ok: true, items: 1}
	}
	if o := get(ctx, env.client); !o.ok {
		cc.Close()
		return nil, nil, errors.New("GetPayment on " + env.cfg.GRPCAddr + ": " + o.status)
	}
	return func(ctx context.Context, w *worker) outcome { return get(ctx, w.client) }, func() { cc.Close() }, nil
}
