package auth

import (
	"flag"
	"reflect"
	"testing"

	"github.com/tamkeen/tamkeen/libs/config"
)

// TestDefaultConfigIsTheTags checks DefaultConfig against what config.Load
// leaves when only the required key-encryption key is set, so that the
// struct-tag defaults and DefaultConfig cannot drift apart (as
// notification's TestConfig does for its own).
func TestDefaultConfigIsTheTags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TAMKEEN_KEY_ENCRYPTION_KEY": testKEK}
	var cfg Config
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	if err := config.Load(&cfg, fs, nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := DefaultConfig()
	want.KeyEncryptionKey = testKEK
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load = %+v; want DefaultConfig() %+v", cfg, want)
	}
	if got := want.HashParams(); got != DefaultHashParams {
		t.Errorf("DefaultConfig().HashParams() = %+v; want DefaultHashParams %+v", got, DefaultHashParams)
	}
}
