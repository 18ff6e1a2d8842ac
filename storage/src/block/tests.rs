//! Block tests on real files: a random round trip, upstream's v1 block, promtool 2.42 reading
//! our blocks, corruption of each file, and the writer leaving nothing behind when it fails.
//! promtool (Debian's `prometheus` package, which .ci/run installs) is optional locally, where
//! a test without it prints why and skips that part; with `CI` set its absence fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::chunkenc::{XorChunk, XorIterator};
use crate::labels::Label;
use crate::matcher::MatchOp;
use crate::sample::STALE_NAN;

/// Series labels → samples in time order.
type Model = BTreeMap<Labels, Vec<(i64, f64)>>;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn value(rng: &mut Rng, prev: f64) -> f64 {
    match rng.below(20) {
        0 => STALE_NAN,
        1 => f64::from_bits(rng.next()), // any bits, NaN payloads included
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        4 => -0.0,
        5..=9 => (rng.below(1000) as f64) / 7.0,
        _ => prev + rng.below(10) as f64,
    }
}

fn gen_model(seed: u64, series: usize) -> Model {
    let mut rng = Rng(seed);
    let names = ["http_requests_total", "up", "node_cpu_seconds_total", "go_goroutines"];
    let jobs = ["api", "node", "db"];
    let envs = ["prod", "dev", "a b/c"];
    let mut model = Model::new();
    while model.len() < series {
        let mut pairs = vec![
            ("__name__", names[rng.below(4) as usize].to_owned()),
            ("job", jobs[rng.below(3) as usize].to_owned()),
            ("instance", format!("host-{}:9100", rng.below(80))),
        ];
        if rng.below(10) < 7 {
            pairs.push(("env", envs[rng.below(3) as usize].to_owned()));
        }
        let count = 1 + rng.below(400) as usize;
        let mut t = 1_000_000 + rng.below(1000) as i64;
        let mut v = 0.0;
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            v = value(&mut rng, v);
            samples.push((t, v));
            t += 14_000 + rng.below(2000) as i64;
        }
        model.insert(Labels::from_pairs(pairs), samples);
    }
    model
}

/// XOR chunks of 1 to 130 samples each: `(min_time, max_time, bytes)`.
fn encode(rng: &mut Rng, samples: &[(i64, f64)]) -> Vec<(i64, i64, Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut rest = samples;
    while !rest.is_empty() {
        let (part, tail) = rest.split_at((1 + rng.below(130) as usize).min(rest.len()));
        let mut chunk = XorChunk::new();
        for &(t, v) in part {
            chunk.append(t, v);
        }
        chunks.push((part[0].0, part[part.len() - 1].0, chunk.bytes().to_vec()));
        rest = tail;
    }
    chunks
}

fn symbols(model: &Model) -> BTreeSet<&str> {
    model.keys().flat_map(|l| l.iter().flat_map(|l| [l.name.as_str(), l.value.as_str()])).collect()
}

fn time_range(model: &Model) -> (i64, i64) {
    let times = model.values().flat_map(|s| s.iter().map(|(t, _)| *t));
    let (lo, hi) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    (lo, hi + 1)
}

fn write_block(parent: &Path, model: &Model, segment_size: u64) -> BlockMeta {
    let ulid = new_ulid();
    let symbols: Vec<&str> = symbols(model).into_iter().collect();
    let mut writer = BlockWriter::create_with_segment_size(parent, &ulid, &symbols, segment_size).unwrap();
    let mut rng = Rng(99);
    for (labels, samples) in model {
        let chunks = encode(&mut rng, samples);
        let chunks: Vec<(i64, i64, &[u8])> = chunks.iter().map(|(a, b, c)| (*a, *b, c.as_slice())).collect();
        writer.add_series(labels, &chunks).unwrap();
    }
    let (min_time, max_time) = time_range(model);
    let compaction = BlockCompaction { level: 1, sources: vec![ulid], ..Default::default() };
    writer.finish(min_time, max_time, compaction).unwrap()
}

/// A series' labels and every sample of its chunks, checking chunk metas against the samples.
fn read_series(block: &Block, series_ref: u64) -> (Labels, Vec<(i64, f64)>) {
    let (labels, metas) = block.series(series_ref).unwrap();
    let mut samples = Vec::new();
    for meta in metas {
        let mut it = XorIterator::new(block.chunk(meta.chunk_ref).unwrap()).unwrap();
        let mut chunk_samples = Vec::new();
        while let Some(s) = it.next_sample().unwrap() {
            chunk_samples.push((s.t, s.v));
        }
        assert_eq!(chunk_samples.first().map(|s| s.0), Some(meta.min_time), "{labels}");
        assert_eq!(chunk_samples.last().map(|s| s.0), Some(meta.max_time), "{labels}");
        samples.extend(chunk_samples);
    }
    (labels, samples)
}

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|(t, v)| (*t, v.to_bits())).collect()
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

fn all_series() -> Vec<Matcher> {
    vec![matcher(MatchOp::Regex, "__name__", ".*")]
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() { dir_size(&e.path()) } else { e.metadata().unwrap().len() }
        })
        .sum()
}

#[test]
fn round_trip_selects_and_reads_back_every_sample() {
    let model = gen_model(7, 300);
    let parent = tempfile::tempdir().unwrap();
    // Small segments, so chunk refs cross several files.
    let meta = write_block(parent.path(), &model, 16 * 1024);
    let dir = parent.path().join(&meta.ulid);
    let segments = std::fs::read_dir(dir.join("chunks")).unwrap().count();
    assert!(segments > 3, "{segments} segments");
    let names: Vec<String> =
        std::fs::read_dir(parent.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, std::slice::from_ref(&meta.ulid), "only the block, no tmp dir");

    let block = Block::open(&dir).unwrap();
    assert_eq!(block.meta(), &meta);
    assert_eq!(block.dir(), dir);
    assert_eq!(block.size_bytes(), dir_size(&dir));
    let total: usize = model.values().map(Vec::len).sum();
    assert_eq!(meta.stats.num_samples, total as u64);
    assert_eq!(meta.stats.num_float_samples, total as u64);
    assert_eq!(meta.stats.num_series, model.len() as u64);
    assert_eq!((meta.min_time, meta.max_time), time_range(&model));

    // Every series, bit-exact, in label order (refs ascend with labels).
    let refs = block.select_refs(&all_series()).unwrap();
    assert_eq!(refs.len(), model.len());
    let read: Vec<(Labels, Vec<(i64, f64)>)> = refs.iter().map(|&r| read_series(&block, r)).collect();
    for ((labels, samples), (want_labels, want)) in read.iter().zip(&model) {
        assert_eq!(labels, want_labels);
        assert_eq!(bits(samples), bits(want), "{labels}");
    }
    assert!(refs.iter().all(|&r| block.tombstones(r).is_empty()));
    let chunks: u64 = refs.iter().map(|&r| block.series(r).unwrap().1.len() as u64).sum();
    assert_eq!(meta.stats.num_chunks, chunks);

    let by_ref: BTreeMap<u64, Labels> = refs.iter().zip(read).map(|(r, (l, _))| (*r, l)).collect();
    let cases: Vec<Vec<Matcher>> = vec![
        vec![matcher(MatchOp::Equal, "job", "api")],
        vec![matcher(MatchOp::NotEqual, "job", "api")],
        vec![matcher(MatchOp::Regex, "__name__", "up|go_goroutines")],
        vec![matcher(MatchOp::Regex, "instance", "host-1.*")],
        vec![matcher(MatchOp::Regex, "instance", ".*-[0-3]:.*"), matcher(MatchOp::NotRegex, "job", "db|node")],
        vec![matcher(MatchOp::NotRegex, "__name__", "up")],
        vec![matcher(MatchOp::Equal, "env", "")],
        vec![matcher(MatchOp::NotEqual, "env", "")],
        vec![matcher(MatchOp::Regex, "env", "prod|")],
        vec![matcher(MatchOp::Regex, "env", ".+")],
        vec![matcher(MatchOp::NotRegex, "env", ".*")],
        vec![matcher(MatchOp::Equal, "env", "a b/c"), matcher(MatchOp::Equal, "job", "node")],
        vec![matcher(MatchOp::Equal, "nope", "x")],
        vec![matcher(MatchOp::NotEqual, "nope", "x")],
        vec![matcher(MatchOp::Equal, "job", "api"), matcher(MatchOp::Equal, "job", "db")],
        vec![matcher(MatchOp::Equal, "job", "nope")],
        vec![matcher(MatchOp::Regex, "", ".*"), matcher(MatchOp::Equal, "", "")],
    ];
    for matchers in cases {
        let want: Vec<&Labels> = model.keys().filter(|l| matchers.iter().all(|m| m.matches(l.get(&m.name)))).collect();
        let got: Vec<&Labels> = block.select_refs(&matchers).unwrap().iter().map(|r| &by_ref[r]).collect();
        let shown: Vec<String> = matchers.iter().map(ToString::to_string).collect();
        assert_eq!(got, want, "{shown:?}");
    }

    let names: BTreeSet<&str> = model.keys().flat_map(|l| l.iter().map(|l| l.name.as_str())).collect();
    assert_eq!(block.label_names(), names.iter().copied().collect::<Vec<_>>());
    for name in names {
        let values: BTreeSet<&str> = model.keys().map(|l| l.get(name)).filter(|v| !v.is_empty()).collect();
        assert_eq!(block.label_values(name), values.into_iter().collect::<Vec<_>>(), "{name}");
    }
    assert!(block.label_values("nope").is_empty());
    assert!(block.label_values("").is_empty());
    assert!(block.series(u64::MAX).is_err());
    assert!(block.series(1).is_err());
    assert!(block.chunk(ChunkRef::from_raw(u64::MAX)).is_err());
    assert!(block.chunk(ChunkRef::from_raw(3)).is_err());

    // Tombstones written later (as a delete would) come back merged per series.
    drop(block);
    let stones = BTreeMap::from([(refs[0], vec![(1, 5), (6, 9), (20, 30)]), (refs[7], vec![(i64::MIN, i64::MAX)])]);
    write_tombstones(&dir, &stones).unwrap();
    let block = Block::open(&dir).unwrap();
    assert_eq!(block.tombstones(refs[0]), [(1, 9), (20, 30)]);
    assert_eq!(block.tombstones(refs[7]), [(i64::MIN, i64::MAX)]);
    assert!(block.tombstones(refs[1]).is_empty());
}

#[test]
fn an_empty_block_opens() {
    let parent = tempfile::tempdir().unwrap();
    let ulid = new_ulid();
    let writer = BlockWriter::create(parent.path(), &ulid, &[]).unwrap();
    // A compacted block's meta: its parents round-trip through the file.
    let parent_ulid = new_ulid();
    let compaction = BlockCompaction {
        level: 2,
        sources: vec![parent_ulid.clone()],
        parents: vec![BlockDesc { ulid: parent_ulid, min_time: 0, max_time: 7_200_000 }],
        ..Default::default()
    };
    let meta = writer.finish(0, 7_200_000, compaction).unwrap();
    let block = Block::open(&parent.path().join(&meta.ulid)).unwrap();
    assert_eq!(block.meta(), &meta);
    assert!(block.select_refs(&all_series()).unwrap().is_empty());
    assert!(block.select_refs(&[matcher(MatchOp::Equal, "a", "b")]).unwrap().is_empty());
    assert!(block.label_names().is_empty());
    assert_eq!(meta.stats, BlockStats::default());
}

/// Go's `labels.Labels.String()`: `{a="1", b="2"}` (values here need no escapes but these).
pub(crate) fn go_labels(labels: &Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}=\"{}\"", l.name, l.value.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// `(labels as Go prints them, timestamp, value bits with every NaN alike)`.
pub(crate) type DumpLine = (String, i64, u64);

pub(crate) fn dump_key(labels: String, t: i64, v: f64) -> DumpLine {
    (labels, t, if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() })
}

/// Parses `promtool tsdb dump` 2.42 output: `{labels} %g-value timestamp` per sample.
pub(crate) fn parse_dump(out: &str) -> Vec<DumpLine> {
    let mut lines: Vec<DumpLine> = out
        .lines()
        .map(|line| {
            let (rest, t) = line.rsplit_once(' ').unwrap();
            let (labels, v) = rest.rsplit_once(' ').unwrap();
            let v = match v {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{v:?} in {line:?}: {e}")),
            };
            dump_key(labels.to_owned(), t.parse().unwrap(), v)
        })
        .collect();
    lines.sort();
    lines
}

/// The promtool binary, or `None` (printing why) when it is absent outside CI.
pub(crate) fn promtool() -> Option<&'static str> {
    match Command::new("promtool").arg("--version").output() {
        Ok(out) if out.status.success() => Some("promtool"),
        other => {
            let why =
                format!("promtool not usable ({:?}); install Debian's prometheus package", other.map(|o| o.status));
            promlite_testkit::missing(&why);
            None
        }
    }
}

/// Runs promtool, asserting exit 0; returns stdout.
pub(crate) fn run(args: &[&str]) -> String {
    let out = Command::new("promtool").args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "promtool {args:?}: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// A data dir promtool opens read-only: it needs a `wal/` beside the blocks.
fn data_dir_with(block: &Path, ulid: &str) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("wal")).unwrap();
    let dest = data.path().join(ulid);
    std::fs::create_dir_all(dest.join("chunks")).unwrap();
    for entry in walk(block) {
        let rel = entry.strip_prefix(block).unwrap();
        std::fs::copy(&entry, dest.join(rel)).unwrap();
    }
    data
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

fn upstream_v1_block() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/upstream/prometheus-v3.14.0/tsdb/testdata/index_format_v1");
    if dir.join("index").exists() {
        return Some(dir);
    }
    promlite_testkit::missing(&format!("upstream testdata at {} (../shared/upstream)", dir.display()));
    None
}

#[test]
fn reads_upstream_v1_block_like_promtool() {
    let Some(dir) = upstream_v1_block() else { return };
    let block = Block::open(&dir).unwrap();
    assert_eq!(block.meta().ulid, "01DXXFZDYD1MQW6079WK0K6EDQ");
    assert_eq!(block.meta().stats.num_series, 102);
    assert_eq!(block.label_names(), ["bar", "foo"]);
    assert_eq!(block.label_values("foo"), ["bar", "baz"]);
    assert_eq!(block.label_values("bar").len(), 100);

    let refs = block.select_refs(&all_series()).unwrap();
    assert_eq!(refs.len(), 102);
    let mut ours = Vec::new();
    let mut all_labels = Vec::new();
    for &r in &refs {
        let (labels, samples) = read_series(&block, r);
        for (t, v) in samples {
            ours.push(dump_key(go_labels(&labels), t, v));
        }
        all_labels.push(labels);
    }
    ours.sort();
    assert_eq!(ours.len(), 102);
    // A v1 series ref is a byte offset, and still ascends with the labels.
    assert!(all_labels.windows(2).all(|w| w[0] < w[1]));
    let ones = block.select_refs(&[matcher(MatchOp::Regex, "bar", "1.*")]).unwrap();
    let want: Vec<&Labels> = all_labels.iter().filter(|l| l.get("bar").starts_with('1')).collect();
    assert_eq!(ones.len(), want.len());
    assert_eq!(block.select_refs(&[matcher(MatchOp::Equal, "foo", "baz")]).unwrap().len(), 1);
    assert_eq!(block.select_refs(&[matcher(MatchOp::Equal, "foo", "")]).unwrap().len(), 100);

    if promtool().is_none() {
        return;
    }
    let data = data_dir_with(&dir, "01DXXFZDYD1MQW6079WK0K6EDQ");
    let dumped = parse_dump(&run(&["tsdb", "dump", data.path().to_str().unwrap()]));
    assert_eq!(dumped, ours);
}

#[test]
fn promtool_analyzes_and_dumps_our_block() {
    let model = gen_model(11, 200);
    let parent = tempfile::tempdir().unwrap();
    std::fs::create_dir(parent.path().join("wal")).unwrap();
    let meta = write_block(parent.path(), &model, chunks::DEFAULT_SEGMENT_SIZE);
    if promtool().is_none() {
        return;
    }
    let data = parent.path().to_str().unwrap();
    let analysis = run(&["tsdb", "analyze", data, &meta.ulid]);
    assert!(analysis.contains(&format!("Series: {}", model.len())), "{analysis}");
    let names = symbols(&model).len();
    assert!(analysis.contains("Label names: "), "{analysis} ({names} symbols)");

    let dumped = parse_dump(&run(&["tsdb", "dump", data]));
    let mut want: Vec<DumpLine> = model
        .iter()
        .flat_map(|(labels, samples)| samples.iter().map(|&(t, v)| dump_key(go_labels(labels), t, v)))
        .collect();
    want.sort();
    assert_eq!(dumped.len(), want.len());
    assert_eq!(dumped, want);
}

#[test]
fn reads_a_block_promtool_wrote() {
    if promtool().is_none() {
        return;
    }
    // OpenMetrics input for `promtool tsdb create-blocks-from openmetrics`: whole seconds inside
    // one 2h block range, values that print and parse back exactly.
    let start_s = 1_699_999_200; // a multiple of 7200 s, so every sample lands in one block
    let mut rng = Rng(21);
    let mut model = Model::new();
    let mut text = String::new();
    for name in ["m", "up"] {
        text.push_str(&format!("# TYPE {name} gauge\n"));
        for s in 0..6 {
            let labels = Labels::from_pairs([
                ("__name__", name.to_owned()),
                ("inst", format!("i{s}")),
                ("job", format!("j{}", s % 2)),
            ]);
            let mut samples = Vec::new();
            for i in 0..(50 + rng.below(300) as i64) {
                let v = (rng.below(100_000) as f64) / 8.0 - 1000.0;
                let t = start_s + i * 15;
                text.push_str(&format!("{name}{{inst=\"i{s}\",job=\"j{}\"}} {v} {t}\n", s % 2));
                samples.push((t * 1000, v));
            }
            model.insert(labels, samples);
        }
    }
    text.push_str("# EOF\n");
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.om");
    std::fs::write(&input, text).unwrap();
    let out = work.path().join("out");
    run(&["tsdb", "create-blocks-from", "openmetrics", input.to_str().unwrap(), out.to_str().unwrap()]);

    let blocks = entries(&out);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    let dir = out.join(&blocks[0]);
    // Prometheus 2 writes label indices and their own offset table: the reader checks them too.
    let index = std::fs::read(dir.join("index")).unwrap();
    let toc = toc(&index);
    assert_eq!(index[4], 2);
    assert_ne!(toc[3], toc[5], "label offset table apart from the postings offset table");
    let block = Block::open(&dir).unwrap();
    let read: Model = block.select_refs(&all_series()).unwrap().into_iter().map(|r| read_series(&block, r)).collect();
    assert_eq!(read.keys().collect::<Vec<_>>(), model.keys().collect::<Vec<_>>());
    for (labels, samples) in &model {
        assert_eq!(bits(&read[labels]), bits(samples), "{labels}");
    }
    assert_eq!(block.label_values("inst"), ["i0", "i1", "i2", "i3", "i4", "i5"]);
    assert_eq!(
        block
            .select_refs(&[matcher(MatchOp::Equal, "job", "j1"), matcher(MatchOp::Equal, "__name__", "up")])
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn block_is_send_and_sync() {
    // Db shares opened blocks between queriers and the compactor thread.
    fn check<T: Send + Sync>() {}
    check::<Block>();
}

/// A fresh copy of the block at `src` in its own temp dir, for one corruption.
fn copy_block(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let dest = parent.path().join(src.file_name().unwrap());
    std::fs::create_dir_all(dest.join("chunks")).unwrap();
    for file in walk(src) {
        std::fs::copy(&file, dest.join(file.strip_prefix(src).unwrap())).unwrap();
    }
    (parent, dest)
}

fn flip(file: &Path, at: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[at] ^= 0x5a;
    std::fs::write(file, bytes).unwrap();
}

fn toc(index: &[u8]) -> Vec<usize> {
    let toc = &index[index.len() - 52..index.len() - 4];
    toc.chunks(8).map(|b| u64::from_be_bytes(b.try_into().unwrap()) as usize).collect()
}

/// Opening fails, naming `file`.
fn assert_open_fails(dir: &Path, file: &str, what: &str) {
    let err = match Block::open(dir) {
        Ok(_) => panic!("{what}: opened"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains(file), "{what}: {err}");
}

#[test]
fn corruption_is_an_error_naming_the_file() {
    let model = gen_model(3, 40);
    let parent = tempfile::tempdir().unwrap();
    let meta = write_block(parent.path(), &model, chunks::DEFAULT_SEGMENT_SIZE);
    let src = parent.path().join(&meta.ulid);
    let index = std::fs::read(src.join("index")).unwrap();
    let toc = toc(&index);
    let (symbols, series, postings_table) = (toc[0], toc[1], toc[5]);
    let cases = [
        (symbols + 12, "symbol table"),
        (series + 3, "first series entry"),
        (postings_table - 6, "last postings list"),
        (postings_table + 12, "postings offset table"),
        (index.len() - 20, "TOC"),
        (4, "version"),
    ];
    for (at, what) in cases {
        let (_tmp, dir) = copy_block(&src);
        flip(&dir.join("index"), at);
        assert_open_fails(&dir, "index", what);
    }

    let (_tmp, dir) = copy_block(&src);
    let file = dir.join("index");
    std::fs::write(&file, &index[..index.len() - 10]).unwrap();
    assert_open_fails(&dir, "index", "truncated index");
    std::fs::write(&file, &index[..3]).unwrap();
    assert_open_fails(&dir, "index", "index without header");

    let (_tmp, dir) = copy_block(&src);
    std::fs::write(dir.join("meta.json"), "{\"ulid\": ").unwrap();
    assert!(matches!(Block::open(&dir), Err(BlockError::Meta { path, .. }) if path.ends_with("meta.json")));
    std::fs::write(
        dir.join("meta.json"),
        r#"{"ulid":"x","minTime":0,"maxTime":1,"compaction":{"level":1},"version":1}"#,
    )
    .unwrap();
    assert_open_fails(&dir, "meta.json", "bad ULID");

    let (_tmp, dir) = copy_block(&src);
    flip(&dir.join("chunks/000001"), 1);
    assert_open_fails(&dir, "000001", "segment magic");

    let (_tmp, dir) = copy_block(&src);
    flip(&dir.join("tombstones"), 0);
    assert_open_fails(&dir, "tombstones", "tombstones magic");

    // A chunk's bytes are only checked when it is read.
    let (_tmp, dir) = copy_block(&src);
    let first = Block::open(&dir).unwrap().select_refs(&all_series()).unwrap()[0];
    assert_eq!(first, series.div_ceil(16) as u64, "the first series follows the symbols, 16-byte aligned");
    let chunk_ref = Block::open(&dir).unwrap().series(first).unwrap().1[0].chunk_ref;
    flip(&dir.join("chunks/000001"), chunk_ref.offset() as usize + 4);
    let block = Block::open(&dir).unwrap();
    let err = block.chunk(chunk_ref).unwrap_err().to_string();
    assert!(err.contains("000001") && err.contains("CRC"), "{err}");
}

/// Opens a corrupted copy and, if that works, reads everything; must never panic.
fn read_everything(dir: &Path) {
    let Ok(block) = Block::open(dir) else { return };
    for matchers in
        [all_series(), vec![matcher(MatchOp::Regex, "job", "a.*")], vec![matcher(MatchOp::NotEqual, "env", "")]]
    {
        for series_ref in block.select_refs(&matchers).unwrap_or_default() {
            if let Ok((_, metas)) = block.series(series_ref) {
                for meta in metas {
                    let _ = block.chunk(meta.chunk_ref);
                }
            }
        }
    }
    for name in block.label_names() {
        block.label_values(&name);
    }
}

#[test]
fn no_byte_flip_or_truncation_panics() {
    let model = gen_model(5, 6);
    let parent = tempfile::tempdir().unwrap();
    let meta = write_block(parent.path(), &model, chunks::DEFAULT_SEGMENT_SIZE);
    let src = parent.path().join(&meta.ulid);
    let (_tmp, dir) = copy_block(&src);
    for file in ["index", "chunks/000001", "tombstones"] {
        let path = dir.join(file);
        let original = std::fs::read(&path).unwrap();
        // Every byte of the small files; a stride over the chunks keeps the test quick.
        let stride = if original.len() > 4096 { 7 } else { 1 };
        for at in (0..original.len()).step_by(stride) {
            let mut bytes = original.clone();
            bytes[at] ^= 0xff;
            std::fs::write(&path, &bytes).unwrap();
            read_everything(&dir);
        }
        for len in (0..original.len()).step_by(stride) {
            std::fs::write(&path, &original[..len]).unwrap();
            read_everything(&dir);
        }
        std::fs::write(&path, &original).unwrap();
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_sorted(pairs.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect())
}

#[test]
fn a_failed_write_leaves_no_tmp_dir() {
    let parent = tempfile::tempdir().unwrap();
    let mut chunk = XorChunk::new();
    chunk.append(10, 1.0);
    let chunks: &[(i64, i64, &[u8])] = &[(10, 10, chunk.bytes())];
    let symbols = ["a", "b", "c"];

    // Series out of order: the error removes the tmp dir at once, and the writer stays dead.
    let ulid = new_ulid();
    let mut writer = BlockWriter::create(parent.path(), &ulid, &symbols).unwrap();
    assert_eq!(entries(parent.path()), [format!("{ulid}{TMP_FOR_CREATION_SUFFIX}")]);
    writer.add_series(&labels(&[("a", "c")]), chunks).unwrap();
    let err = writer.add_series(&labels(&[("a", "b")]), chunks).unwrap_err();
    assert!(matches!(err, BlockError::Invalid { .. }), "{err}");
    assert!(entries(parent.path()).is_empty());
    assert!(writer.add_series(&labels(&[("a", "c"), ("b", "c")]), chunks).is_err());
    drop(writer);

    // A label missing from the symbols; overlapping chunks; samples outside the block's range.
    let mut writer = BlockWriter::create(parent.path(), &new_ulid(), &symbols).unwrap();
    assert!(writer.add_series(&labels(&[("a", "zzz")]), chunks).is_err());
    assert!(entries(parent.path()).is_empty());
    let mut writer = BlockWriter::create(parent.path(), &new_ulid(), &symbols).unwrap();
    assert!(writer.add_series(&labels(&[("a", "b")]), &[chunks[0], chunks[0]]).is_err());
    assert!(entries(parent.path()).is_empty());
    let mut writer = BlockWriter::create(parent.path(), &new_ulid(), &symbols).unwrap();
    writer.add_series(&labels(&[("a", "b")]), chunks).unwrap();
    assert!(writer.finish(0, 10, BlockCompaction::default()).is_err());
    assert!(entries(parent.path()).is_empty());

    // Dropped before finish.
    let mut writer = BlockWriter::create(parent.path(), &new_ulid(), &symbols).unwrap();
    writer.add_series(&labels(&[("a", "b")]), chunks).unwrap();
    drop(writer);
    assert!(entries(parent.path()).is_empty());

    // The rename fails (a non-empty directory holds the name): the tmp dir goes, the other stays.
    let ulid = new_ulid();
    std::fs::create_dir_all(parent.path().join(&ulid).join("keep")).unwrap();
    let mut writer = BlockWriter::create(parent.path(), &ulid, &symbols).unwrap();
    writer.add_series(&labels(&[("a", "b")]), chunks).unwrap();
    let err = writer.finish(0, 100, BlockCompaction::default()).unwrap_err();
    assert!(matches!(err, BlockError::Io { .. }), "{err}");
    assert_eq!(entries(parent.path()), std::slice::from_ref(&ulid));
    assert_eq!(entries(&parent.path().join(&ulid)), ["keep"]);

    // The parent is a file: nothing can be created.
    let file = parent.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert!(BlockWriter::create(&file, &new_ulid(), &symbols).is_err());
    assert!(BlockWriter::create(parent.path(), "not-a-ulid", &symbols).is_err());
    assert!(BlockWriter::create(parent.path(), &new_ulid(), &["b", "a"]).is_err());
    assert_eq!(entries(parent.path()), [ulid, "file".to_owned()]);
}
