package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

func TestPolicyBudgetKeys(t *testing.T) {
	cfg, err := Parse([]byte(validConfig), "pgmoat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if opts := cfg.PolicyOptions(); opts.MaxJudgeBytes != policy.DefaultMaxJudgeBytes || opts.JudgeWait != policy.DefaultJudgeWait {
		t.Errorf("defaults: %d bytes, wait %s", opts.MaxJudgeBytes, opts.JudgeWait)
	}
	cfg, err = Parse([]byte(validConfig+"policy:\n  max_judge_bytes: 4194304\n  judge_wait: 250ms\n"), "pgmoat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if opts := cfg.PolicyOptions(); opts.MaxJudgeBytes != 4<<20 || opts.JudgeWait != 250*time.Millisecond {
		t.Errorf("configured: %d bytes, wait %s", opts.MaxJudgeBytes, opts.JudgeWait)
	}
	rows := cfg.Rows()
	for _, want := range [][2]string{{"policy.max_judge_bytes", "4194304"}, {"policy.judge_wait", "250ms"}} {
		if !slices.Contains(rows, want) {
			t.Errorf("SHOW CONFIG lacks %v", want)
		}
	}
	_, err = Parse([]byte(validConfig+"policy:\n  max_judge_bytes: -1\n"), "f.yaml")
	if err == nil || !strings.Contains(err.Error(), "policy.max_judge_bytes") {
		t.Errorf("negative budget: %v", err)
	}
}
