package agent

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaultsAndIgnoredKeys(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{
		"checkpointFile": "/tmp/ck",
		"kinesis.endpoint": "http://127.0.0.1:4567",
		"cloudwatch.emitMetrics": false,
		"flows": [{"filePattern": "/var/log/app/*.log", "kinesisStream": "s", "publishQueueCapacity": 100}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Flows[0]
	if f.PartitionKey != PartitionKeyRandom || !f.StartAtEnd || f.MaxBufferAge != time.Minute ||
		f.MaxBufferRecords != 500 || f.MaxBufferBytes != 5<<20 || f.TruncatedRecordTerminator != "\n" {
		t.Fatalf("defaults: %+v", f)
	}
	if cfg.Endpoint != "http://127.0.0.1:4567" {
		t.Fatalf("endpoint %q", cfg.Endpoint)
	}
	if strings.Join(cfg.Ignored, ",") != "cloudwatch.emitMetrics,flows[0].publishQueueCapacity" {
		t.Fatalf("ignored %v", cfg.Ignored)
	}
}

func TestParseConfigRefusesClearly(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`[]`, "not a JSON object"},
		{`{"flows": []}`, "no flows"},
		{`{"flowz": []}`, `unknown key "flowz"`},
		{`{"flows": [{"kinesisStream": "s"}]}`, "filePattern is required"},
		{`{"flows": [{"filePattern": "/x/*.log"}]}`, "kinesisStream is required"},
		{`{"flows": [{"filePattern": "/x/*/a.log", "kinesisStream": "s"}]}`, "directory is literal"},
		{`{"flows": [{"filePattern": "/x/a", "deliveryStream": "d"}]}`, "shardscope deliver"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "maxBufferSizeRecords": 501}]}`, "outside 1–500"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "maxBufferAgeMillis": 10}]}`, "outside 1000–900000"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "partitionKeyOption": "HASH"}]}`, "RANDOM, DETERMINISTIC or FIELD:name"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "multiLineStartPattern": "("}]}`, "multiLineStartPattern"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "dataProcessingOptions": [{"optionName": "LOGTOJSON", "logFormat": "RFC5424SYSLOG"}]}]}`, "logFormat"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "dataProcessingOptions": [{"optionName": "CSVTOJSON"}]}]}`, "customFieldNames"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "dataProcessingOptions": [{"optionName": "ADDEC2METADATA"}]}]}`, "EC2"},
		{`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "dataProcessingOptions": [{"optionName": "SINGLELINE", "delimiter": ","}]}]}`, `unknown key "delimiter"`},
	} {
		_, err := ParseConfig([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", tc.text, err, tc.want)
		}
	}
}

func processors(t *testing.T, opts string) []Processor {
	t.Helper()
	cfg, err := ParseConfig([]byte(`{"flows": [{"filePattern": "/x/a", "kinesisStream": "s", "dataProcessingOptions": ` + opts + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Flows[0].Processing
}

func TestProcessing(t *testing.T) {
	for _, tc := range []struct {
		opts, in, want string
		skip           bool
	}{
		{`[{"optionName": "SINGLELINE"}]`, "a\n  b \n", "ab\n", false},
		{`[{"optionName": "SINGLELINE", "parseOptions": ["NO_TRIM", "ESCAPE_NEW_LINE"]}]`, "a\n  b \n", `a\n  b ` + "\n", false},
		{`[{"optionName": "CSVTOJSON", "customFieldNames": ["id", "name"]}]`, "7,ann\n", `{"id":"7","name":"ann"}` + "\n", false},
		{`[{"optionName": "CSVTOJSON", "customFieldNames": ["id", "name"], "delimiter": "\t"}]`, "7\tann\n", `{"id":"7","name":"ann"}` + "\n", false},
		{`[{"optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG"}]`,
			`64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/Main/Double_bounce_sender?topicparent=Main.ConfigurationVariables HTTP/1.1" 401 12846` + "\n",
			`{"host":"64.242.88.10","ident":null,"authuser":null,"datetime":"07/Mar/2004:16:05:49 -0800","request":"GET /twiki/bin/edit/Main/Double_bounce_sender?topicparent=Main.ConfigurationVariables HTTP/1.1","response":"401","bytes":"12846"}` + "\n", false},
		{`[{"optionName": "LOGTOJSON", "logFormat": "COMBINEDAPACHELOG"}]`,
			`1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/start.html" "Mozilla/4.08"` + "\n",
			`{"host":"1.2.3.4","ident":null,"authuser":"bob","datetime":"10/Oct/2000:13:55:36 -0700","request":"GET /a.gif HTTP/1.0","response":"200","bytes":"2326","referrer":"http://x/start.html","agent":"Mozilla/4.08"}` + "\n", false},
		{`[{"optionName": "LOGTOJSON", "logFormat": "APACHEERRORLOG"}]`,
			`[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico` + "\n",
			`{"timestamp":"Fri Sep 09 10:42:29.902022 2011","module":"core","severity":"error","processid":"35708","threadid":"4328636416","client":"72.15.99.187","message":"File does not exist: /usr/local/apache2/htdocs/favicon.ico"}` + "\n", false},
		{`[{"optionName": "LOGTOJSON", "logFormat": "SYSLOG"}]`,
			"Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds)\n",
			`{"timestamp":"Mar 12 12:00:08","hostname":"server2","program":"rcd","processid":"308","message":"Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds)"}` + "\n", false},
		{`[{"optionName": "LOGTOJSON", "logFormat": "RFC3339SYSLOG"}]`,
			"2026-12-03T10:00:00.123+00:00 web1 nginx: started\n",
			`{"timestamp":"2026-12-03T10:00:00.123+00:00","hostname":"web1","program":"nginx","processid":null,"message":"started"}` + "\n", false},
		{`[{"optionName": "LOGTOJSON", "logFormat": "SYSLOG"}]`, "not a syslog line\n", "", true},
		{`[{"optionName": "LOGTOJSON", "logFormat": "SYSLOG", "matchPattern": "^(\\w+) (\\w+)", "customFieldNames": ["a", "b"]}]`, "x y z\n", `{"a":"x","b":"y"}` + "\n", false},
		{`[{"optionName": "CSVTOJSON", "customFieldNames": ["a"]}, {"optionName": "ADDBRACKETS"}]`, "1\n", `{{"a":"1"}}` + "\n", false},
		{`[{"optionName": "ADDMETADATA", "metadata": {"env": "dev"}}]`, "hello\n", `{"metadata":{"env": "dev"},"data":"hello"}` + "\n", false},
	} {
		data := []byte(tc.in)
		skipped := false
		for _, p := range processors(t, tc.opts) {
			var ok bool
			if data, ok = p.Process(data); !ok {
				skipped = true
				break
			}
		}
		if skipped != tc.skip || !tc.skip && string(data) != tc.want {
			t.Errorf("%s on %q = %q (skipped %v), want %q (skipped %v)", tc.opts, tc.in, data, skipped, tc.want, tc.skip)
		}
	}
}

func TestPartitionKeys(t *testing.T) {
	fr := &flowRun{flow: &Flow{PartitionKey: PartitionKeyDeterministic}}
	if k := fr.partitionKey([]byte("abc")); k != "900150983cd24fb0d6963f7d28e17f72" {
		t.Fatalf("DETERMINISTIC key %q, want the hex MD5", k)
	}
	fr.flow = &Flow{PartitionKey: PartitionKeyFieldOption, PartitionKeyField: "user"}
	if k := fr.partitionKey([]byte(`{"user":"ann","n":1}`)); k != "ann" {
		t.Fatalf("FIELD key %q", k)
	}
	if k := fr.partitionKey([]byte(`not json`)); k == "" || k == "ann" {
		t.Fatalf("FIELD fallback key %q, want a random one", k)
	}
	fr.flow = &Flow{PartitionKey: PartitionKeyRandom}
	a, b := fr.partitionKey(nil), fr.partitionKey(nil)
	if a == b {
		t.Fatalf("two RANDOM keys are both %q", a)
	}
}

// A record over the service's limit is cut and ends with the terminator.
func TestOversizeRecordIsTruncated(t *testing.T) {
	fr := &flowRun{agent: &Agent{now: time.Now}, flow: &Flow{PartitionKey: PartitionKeyDeterministic, TruncatedRecordTerminator: "…\n"}}
	big := []byte(strings.Repeat("x", 2<<20) + "\n")
	fr.add(line{data: big})
	got := fr.buf[0].entry
	if len(got.Data)+len(got.PartitionKey) != maxRecordBytes || !strings.HasSuffix(string(got.Data), "…\n") {
		t.Fatalf("record of %d bytes (+%d key), ends %q", len(got.Data), len(got.PartitionKey), got.Data[len(got.Data)-5:])
	}
	if fr.stats.Truncated != 1 {
		t.Fatalf("truncated count %d", fr.stats.Truncated)
	}
}
