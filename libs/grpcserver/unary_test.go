package grpcserver

import (
	"context"
	"errors"
	"strconv"
	"testing"
)

func TestUnary(t *testing.T) {
	t.Parallel()
	errWho := errors.New("who")
	errUse := errors.New("use")
	mapped := errors.New("mapped")
	toStatus := func(_ context.Context, err error) error {
		if !errors.Is(err, errUse) {
			t.Errorf("toStatus got %v; want the use case's error", err)
		}
		return mapped
	}
	caller := func(context.Context) (int, error) { return 7, nil }
	refused := func(context.Context) (int, error) { return 0, errWho }
	double := func(c int) (int, error) { return 2 * c, nil }
	failing := func(int) (int, error) { return 0, errUse }
	for _, tc := range []struct {
		name string
		who  func(context.Context) (int, error)
		use  func(int) (int, error)
		want string
		err  error
	}{
		{"answer", caller, double, "14", nil},
		{"who's error unchanged", refused, double, "", errWho},
		{"use case's error through toStatus", caller, failing, "", mapped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Unary(context.Background(), toStatus, tc.who, tc.use, strconv.Itoa)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Unary = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	got, err := List(context.Background(), nil, Anyone, func(struct{}) ([]int, string, error) {
		return []int{1, 2}, "next", nil
	}, func(items []int, next string) string {
		return next + ":" + Convert(items, strconv.Itoa)[1]
	})
	if got != "next:2" || err != nil {
		t.Errorf("List = %q, %v; want %q, nil", got, err, "next:2")
	}
}

func TestConvertNoneIsNil(t *testing.T) {
	t.Parallel()
	if got := Convert([]int{}, strconv.Itoa); got != nil {
		t.Errorf("Convert(none) = %#v; want nil, as the append loops gave", got)
	}
}
