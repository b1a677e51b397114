package store

import "database/sql"

// Row is what a scan function reads: a *sql.Row or the current row of a
// *sql.Rows, so that one function scans a row for a get and for a list.
type Row interface{ Scan(dest ...any) error }

// CollectRows reads every row of rows with scan and closes rows: the one
// "for rows.Next() { scan; append }; rows.Err()" loop the stores share.
func CollectRows[T any](rows *sql.Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CollectMap reads every row of rows with scan, which returns a row's key
// and value, into a map (a later row with the same key wins), and closes
// rows.
func CollectMap[K comparable, V any](rows *sql.Rows, scan func(Row) (K, V, error)) (map[K]V, error) {
	defer rows.Close()
	out := map[K]V{}
	for rows.Next() {
		k, v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// CollectColumn reads rows of a single column (ids, counts) and closes
// rows.
func CollectColumn[T any](rows *sql.Rows) ([]T, error) {
	return CollectRows(rows, func(r Row) (T, error) {
		var v T
		err := r.Scan(&v)
		return v, err
	})
}

// ChangedOne reports whether the statement whose ExecContext returned res,
// err changed exactly one row: the answer of a compare-and-set (an UPDATE
// or DELETE … WHERE id = $1 AND state = $2) that only one caller may win.
// Pass ExecContext's results straight in; its error, or RowsAffected's,
// comes back as it is.
func ChangedOne(res sql.Result, err error) (bool, error) {
	n, err := affected(res, err)
	return n == 1, err
}

// ChangedAny reports whether the statement whose ExecContext returned res,
// err changed any row: a DELETE that may match several, or an INSERT … ON
// CONFLICT DO NOTHING that may insert nothing.
func ChangedAny(res sql.Result, err error) (bool, error) {
	n, err := affected(res, err)
	return n > 0, err
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
