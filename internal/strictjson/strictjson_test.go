package strictjson

import (
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	type req struct {
		Username string   `json:"username"`
		Roles    []string `json:"roles"`
		Skipped  string   `json:"-"`
	}
	var ok req
	if err := Decode([]byte(` {"username":"a","roles":["x"]} `), &ok); err != nil || ok.Username != "a" || len(ok.Roles) != 1 {
		t.Fatalf("%+v %v", ok, err)
	}
	for body, want := range map[string]func(error) bool{
		`{"username":"a","username":"b"}`:              isRepeated,
		`{"username":"a","USERNAME":"b"}`:              isRepeated,
		"{\"username\":\"a\",\"u\u017fername\":\"b\"}": isRepeated, // long s folds to s, for encoding/json too
		`{"USERNAME":"a"}`:                             isUnknown,
		`{"Skipped":"a"}`:                              isUnknown,
		`{"-":"a"}`:                                    isUnknown,
		`null`:                                         is(ErrNotObject),
		`["username"]`:                                 is(ErrNotObject),
		`{"username":"a"}}`:                            is(ErrTrailing),
		`{"username":"a"} ]`:                           is(ErrTrailing),
		"{\"username\":\"a\"}\u00a0":                   is(ErrTrailing),
		`{"username":"a"} {}`:                          is(ErrTrailing),
		"{\"username\":\"\xff\"}":                      is(ErrInvalidUTF8),
		`{"username":1}`:                               func(err error) bool { return err != nil },
		`{"username":"a"`:                              func(err error) bool { return err != nil },
	} {
		var r req
		if err := Decode([]byte(body), &r); err == nil || !want(err) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func isRepeated(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe) && fe.Repeated
}

func isUnknown(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe) && !fe.Repeated
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
