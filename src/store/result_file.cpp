#include "auxgrid/store/result_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <unordered_set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/stats/metrics.hpp"
#include "h5.hpp"

namespace auxgrid::store {

namespace fs = std::filesystem;

namespace {

const char* const kProvPrefix = "prov.";
const char* const kChecksum = "checksum";
// Left out of the checksum: itself, and the flag set after it.
const std::vector<std::string> kUnhashed{kChecksum, "complete"};

std::map<std::string, std::string> read_provenance(const H5::H5File& f, const std::string& where) {
  std::map<std::string, std::string> out;
  for (const auto& name : h5::attr_names(f))
    if (name.rfind(kProvPrefix, 0) == 0)
      out[name.substr(std::char_traits<char>::length(kProvPrefix))] = h5::read_attr_string(f, name, where);
  return out;
}

std::string where_of(const std::string& path) { return fmt::format("result '{}'", path); }

// The reason without the "result '<path>': " prefix, for "<path>: <reason>" lists.
std::string reason(const std::string& message, const std::string& where) {
  const std::string prefix = where + ": ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

// An evaluation's numbers agree: its confusion tallies its labels and
// predictions, and its F1 values are those of its confusion.
void check_eval(const EvalRecord& e, std::size_t classes, const std::string& where) {
  AUXGRID_CHECK(e.predictions.size() == e.labels.size() && e.utterance_ids.size() == e.labels.size(),
                "{}: /eval/{} has {} labels, {} predictions and {} utterance ids", where, e.condition, e.labels.size(),
                e.predictions.size(), e.utterance_ids.size());
  AUXGRID_CHECK(e.confusion.size() == classes * classes, "{}: /eval/{}/confusion has {} entries, expected {}x{}", where,
                e.condition, e.confusion.size(), classes, classes);
  const auto c = static_cast<std::int32_t>(classes);
  for (std::size_t i = 0; i < e.labels.size(); ++i)
    AUXGRID_CHECK(e.labels[i] >= 0 && e.labels[i] < c && e.predictions[i] >= 0 && e.predictions[i] < c,
                  "{}: /eval/{}: utterance '{}' has label {} and prediction {}, outside [0, {})", where, e.condition,
                  e.utterance_ids[i], e.labels[i], e.predictions[i], c);
  const auto tally = stats::confusion_matrix(e.labels, e.predictions, c);
  AUXGRID_CHECK(tally.counts == e.confusion, "{}: /eval/{}/confusion does not tally its labels and predictions", where,
                e.condition);
  // The writer computed them from this confusion with the same functions.
  const double micro = stats::micro_f1(tally), macro = stats::macro_f1(tally);
  AUXGRID_CHECK(std::abs(e.micro_f1 - micro) < 1e-9 && std::abs(e.macro_f1 - macro) < 1e-9,
                "{}: /eval/{}: micro_f1 {} and macro_f1 {} are not those of its confusion ({} and {})", where,
                e.condition, e.micro_f1, e.macro_f1, micro, macro);
}

void validate_result(const CellResult& r, const std::string& where) {
  AUXGRID_CHECK(!r.cell_id.empty(), "{}: cell_id is empty", where);
  AUXGRID_CHECK(!r.class_names.empty(), "{}: class_names is empty", where);
  AUXGRID_CHECK(r.best_epoch >= -1 && r.best_epoch < static_cast<int>(r.epochs.size()),
                "{}: best_epoch {} is outside [-1, {}) (epochs)", where, r.best_epoch, r.epochs.size());
  for (const char* key : {"model.name", "seed", "train.procedure"})
    AUXGRID_CHECK(r.config.has(key), "{}: config lacks the setting '{}'", where, key);
  for (const auto& [key, value] : r.provenance)
    AUXGRID_CHECK(!key.empty(), "{}: provenance entry with an empty key (value '{}')", where, value);
  const std::size_t c = r.class_names.size();
  std::set<std::string> seen;
  for (const auto& e : r.evals) {
    // The condition names a group: /eval/<condition>.
    AUXGRID_CHECK(!e.condition.empty() && e.condition != "." && e.condition.find('/') == std::string::npos,
                  "{}: evaluation condition '{}' cannot name a group", where, e.condition);
    AUXGRID_CHECK(seen.insert(e.condition).second, "{}: evaluation condition '{}' appears twice", where, e.condition);
    check_eval(e, c, where);
  }
}

std::string checksum_of(const H5::H5File& f, const std::string& where) {
  return fmt::format("{:016x}", h5::content_hash(f.openGroup("/"), kUnhashed, where));
}

// Throws unless the file is of a schema this build reads, its writer
// finished, and (from schema 2 on) its content is what the writer wrote.
void check_complete(const H5::H5File& f, const std::string& where) {
  const auto version = h5::read_attr_int(f, "schema_version", where);
  AUXGRID_CHECK(version >= kOldestResultSchemaVersion && version <= kResultSchemaVersion,
                "{}: attribute 'schema_version' is {}, this build reads {} to {}", where, version,
                kOldestResultSchemaVersion, kResultSchemaVersion);
  AUXGRID_CHECK(f.attrExists("complete"), "{}: attribute 'complete' is missing (the writer did not finish)", where);
  const auto complete = h5::read_attr_int(f, "complete", where);
  AUXGRID_CHECK(complete == 1, "{}: attribute 'complete' is {} (the writer did not finish)", where, complete);
  if (version < 2) return;
  const auto stored = h5::read_attr_string(f, kChecksum, where);
  const auto actual = checksum_of(f, where);
  AUXGRID_CHECK(stored == actual,
                "{}: its content does not match its checksum ({} stored, {} now): it was changed or damaged", where,
                stored, actual);
}

// Results written before model revisions were recorded are revision 1.
int read_model_revision(const H5::H5File& f, const std::string& where) {
  return f.attrExists("model_revision") ? static_cast<int>(h5::read_attr_int(f, "model_revision", where)) : 1;
}

// A /config attribute as the setting's type: int8 0/1 back to bool.
Value config_value(const H5::Group& config, const std::string& name, const std::string& where) {
  Value v = h5::read_attr_value(config.openAttribute(name), where + ": /config");
  const SettingSpec* spec = find_setting(name);
  if (spec && std::holds_alternative<bool>(spec->default_value) && std::holds_alternative<std::int64_t>(v)) {
    const auto i = std::get<std::int64_t>(v);
    AUXGRID_CHECK(i == 0 || i == 1, "{}: /config attribute '{}' is {}, expected 0 or 1", where, name, i);
    v = i == 1;
  }
  return v;
}

Config read_config(const H5::Group& g, const std::string& where) {
  Config config = Config::defaults();
  // Attributes that are no setting (model, corpus, procedure) are conveniences
  // for other readers; settings unknown to this build are from older builds.
  for (const auto& name : h5::attr_names(g))
    if (find_setting(name)) config.set(name, config_value(g, name, where), where + ": /config");
  return config;
}

std::vector<EpochRecord> read_epochs(const H5::Group& g, const std::string& where) {
  const auto train_loss = h5::read_doubles(g, "train_loss", where);
  const auto dev_loss = h5::read_doubles(g, "dev_loss", where);
  const auto lr = h5::read_doubles(g, "lr", where);
  const auto seconds = h5::read_doubles(g, "seconds", where);
  const std::size_t n = train_loss.size();
  AUXGRID_CHECK(dev_loss.size() == n && lr.size() == n && seconds.size() == n,
                "{}: datasets /train/train_loss, dev_loss, lr, seconds have {}, {}, {}, {} entries, expected equal",
                where, n, dev_loss.size(), lr.size(), seconds.size());
  auto combined = std::vector<double>(n, std::nan(""));
  if (g.nameExists("train_combined_loss")) {
    combined = h5::read_doubles(g, "train_combined_loss", where);
    AUXGRID_CHECK(combined.size() == n, "{}: dataset /train/train_combined_loss has {} entries, expected {}", where,
                  combined.size(), n);
  }
  std::vector<EpochRecord> epochs(n);
  for (std::size_t i = 0; i < n; ++i) epochs[i] = {train_loss[i], dev_loss[i], lr[i], seconds[i], combined[i]};
  return epochs;
}

EvalRecord read_eval(const H5::Group& eval, const std::string& condition, std::size_t classes,
                     const std::string& where) {
  const H5::Group g = h5::open_group(eval, condition, where);
  EvalRecord e;
  e.condition = condition;
  e.labels = h5::read_int32s(g, "labels", where);
  e.predictions = h5::read_int32s(g, "predictions", where);
  e.utterance_ids = h5::read_strings(g, "utterance_ids", where);
  const auto dims = h5::read_int64s_2d(g, "confusion", e.confusion, where);
  AUXGRID_CHECK(dims[0] == classes && dims[1] == classes, "{}: dataset /eval/{}/confusion is {}x{}, expected {}x{}",
                where, condition, dims[0], dims[1], classes, classes);
  e.micro_f1 = h5::read_attr_double(g, "micro_f1", where);
  e.macro_f1 = h5::read_attr_double(g, "macro_f1", where);
  check_eval(e, classes, where);
  return e;
}

// The groups of a result file, in the order write_result writes them.
void write_attributes(H5::H5File& f, const CellResult& r) {
  h5::attr_int(f, "schema_version", kResultSchemaVersion, H5::PredType::NATIVE_INT32);
  h5::attr_int(f, "complete", 0, H5::PredType::NATIVE_INT32);  // set to 1 last
  h5::attr_string(f, "cell_id", r.cell_id);
  h5::attr_string(f, "label", r.label);
  h5::attr_string(f, "grid", r.grid);
  h5::attr_int(f, "model_revision", r.model_revision, H5::PredType::NATIVE_INT32);
  h5::attr_int(f, "n_params", r.n_params, H5::PredType::NATIVE_INT64);
  h5::attr_int(f, "num_classes", static_cast<std::int64_t>(r.class_names.size()), H5::PredType::NATIVE_INT32);
  h5::attr_strings(f, "class_names", r.class_names);
  h5::attr_int(f, "best_epoch", r.best_epoch, H5::PredType::NATIVE_INT32);
  for (const auto& [key, value] : r.provenance) h5::attr_string(f, kProvPrefix + key, value);
}

void write_config(H5::H5File& f, const CellResult& r) {
  const H5::Group config = h5::create_group(f, "config");
  // "seed" is itself a setting, so the loop writes it.
  for (const auto& [key, value] : r.config.values()) h5::attr_value(config, key, value);
  h5::attr_string(config, "model", r.config.str("model.name"));
  h5::attr_string(config, "corpus", r.corpus_name);
  h5::attr_string(config, "procedure", r.config.str("train.procedure"));
}

void write_epochs(H5::H5File& f, const CellResult& r) {
  const H5::Group train = h5::create_group(f, "train");
  std::vector<double> train_loss, train_combined_loss, dev_loss, lr, seconds;
  for (const auto& e : r.epochs) {
    train_loss.push_back(e.train_loss);
    train_combined_loss.push_back(e.train_combined_loss);
    dev_loss.push_back(e.dev_loss);
    lr.push_back(e.lr);
    seconds.push_back(e.seconds);
  }
  const auto series = [&](const char* name, const std::vector<double>& values, const char* units) {
    h5::write_doubles(train, name, values);
    h5::attr_string(train.openDataSet(name), "units", units);
  };
  series("train_loss", train_loss,
         "nats (the training objective: the heads' cross-entropies weighted by their loss weights, mean per "
         "utterance)");
  series("train_combined_loss", train_combined_loss,
         "nats (cross-entropy of the combined logits on the training batches, mean per utterance; compare with "
         "dev_loss)");
  series("dev_loss", dev_loss, "nats (cross-entropy of the combined logits on the dev set, mean per utterance)");
  series("lr", lr, "learning rate during the epoch");
  series("seconds", seconds, "s (wall time of the epoch, dev evaluation included)");
}

void write_split(H5::H5File& f, const CellResult& r) {
  const H5::Group split = h5::create_group(f, "split");
  h5::write_strings(split, "train_ids", r.train_ids);
  h5::write_strings(split, "dev_ids", r.dev_ids);
  h5::write_strings(split, "test_ids", r.test_ids);
  if (!r.audio_mean.empty()) {
    const H5::Group norm = h5::create_group(f, "normalization");
    h5::write_doubles(norm, "audio_mean", r.audio_mean);
    h5::write_doubles(norm, "audio_std", r.audio_std);
  }
}

void write_evals(H5::H5File& f, const CellResult& r) {
  // Creation order is tracked so that evals read back in the order written.
  const H5::Group eval = h5::create_group(f, "eval", /*track_order=*/true);
  const hsize_t c = r.class_names.size();
  for (const auto& e : r.evals) {
    const H5::Group g = h5::create_group(eval, e.condition);
    h5::write_int32s(g, "labels", e.labels);
    h5::write_int32s(g, "predictions", e.predictions);
    h5::write_strings(g, "utterance_ids", e.utterance_ids);
    h5::write_matrix(g, "confusion", H5::PredType::NATIVE_INT64, e.confusion.data(), c, c, /*chunk_rows=*/0);
    h5::attr_double(g, "micro_f1", e.micro_f1);
    h5::attr_double(g, "macro_f1", e.macro_f1);
  }
}

// The whole file, verified (check_complete, check_eval) and read.
CellResult read_cell(const H5::H5File& f, const std::string& where) {
  try {
    check_complete(f, where);
    CellResult r;
    r.cell_id = h5::read_attr_string(f, "cell_id", where);
    r.label = h5::read_attr_string(f, "label", where);
    r.grid = h5::read_attr_string(f, "grid", where);
    r.model_revision = read_model_revision(f, where);
    r.n_params = h5::read_attr_int(f, "n_params", where);
    r.best_epoch = static_cast<int>(h5::read_attr_int(f, "best_epoch", where));
    r.class_names = h5::read_attr_strings(f, "class_names", where);
    const auto num_classes = h5::read_attr_int(f, "num_classes", where);
    AUXGRID_CHECK(num_classes > 0 && static_cast<std::size_t>(num_classes) == r.class_names.size(),
                  "{}: attribute 'num_classes' is {}, but 'class_names' has {} entries", where, num_classes,
                  r.class_names.size());
    r.provenance = read_provenance(f, where);

    const H5::Group config = h5::open_group(f, "config", where);
    r.config = read_config(config, where);
    r.corpus_name = h5::read_attr_string(config, "corpus", where);
    r.epochs = read_epochs(h5::open_group(f, "train", where), where);
    AUXGRID_CHECK(r.best_epoch >= -1 && r.best_epoch < static_cast<int>(r.epochs.size()),
                  "{}: attribute 'best_epoch' is {}, outside [-1, {}) (epochs)", where, r.best_epoch, r.epochs.size());

    const H5::Group split = h5::open_group(f, "split", where);
    r.train_ids = h5::read_strings(split, "train_ids", where);
    r.dev_ids = h5::read_strings(split, "dev_ids", where);
    r.test_ids = h5::read_strings(split, "test_ids", where);
    if (f.nameExists("normalization")) {
      const H5::Group norm = h5::open_group(f, "normalization", where);
      r.audio_mean = h5::read_doubles(norm, "audio_mean", where);
      r.audio_std = h5::read_doubles(norm, "audio_std", where);
    }

    const H5::Group eval = h5::open_group(f, "eval", where);
    for (const auto& condition : h5::children(eval))
      r.evals.push_back(read_eval(eval, condition, r.class_names.size(), where));
    return r;
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

ResultSummary summarize(const H5::H5File& f, const std::string& path, const std::string& where) {
  try {
    ResultSummary s;
    s.path = path;
    s.cell_id = h5::read_attr_string(f, "cell_id", where);
    s.label = h5::read_attr_string(f, "label", where);
    s.grid = h5::read_attr_string(f, "grid", where);
    s.n_params = h5::read_attr_int(f, "n_params", where);
    s.provenance = read_provenance(f, where);

    const H5::Group config = h5::open_group(f, "config", where);
    for (const auto& name : h5::attr_names(config)) s.config[name] = to_string(config_value(config, name, where));
    s.model = h5::read_attr_string(config, "model", where);
    s.corpus = h5::read_attr_string(config, "corpus", where);
    s.procedure = h5::read_attr_string(config, "procedure", where);
    s.seed = h5::read_attr_int(config, "seed", where);

    const auto train = h5::open_group(f, "train", where);
    s.epoch_seconds = h5::read_doubles(train, "seconds", where);
    s.train_loss = h5::read_doubles(train, "train_loss", where);
    s.dev_loss = h5::read_doubles(train, "dev_loss", where);
    if (train.nameExists("train_combined_loss"))
      s.train_combined_loss = h5::read_doubles(train, "train_combined_loss", where);
    const H5::Group eval = h5::open_group(f, "eval", where);
    for (const auto& condition : h5::children(eval)) {
      const H5::Group g = h5::open_group(eval, condition, where);
      s.f1[condition] = {h5::read_attr_double(g, "micro_f1", where), h5::read_attr_double(g, "macro_f1", where)};
    }
    return s;
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

// Throws unless `r`, read from `path`, is the result of the cell the file is
// named after, of model revision `revision` and (given `expected`) of those settings.
void check_identity(const CellResult& r, const H5::H5File& f, const std::string& path, const Config* expected,
                    int revision, const std::string& where) {
  const std::string named = fs::path(path).stem().string();
  AUXGRID_CHECK(r.cell_id == named, "{}: it holds cell '{}' ('{}' of grid '{}'), not cell '{}' as its name says", where,
                r.cell_id, r.label, r.grid, named);
  if (r.model_revision != revision && revision == kModelRevision)
    AUXGRID_FAIL(
        "{}: trained with model revision {}, but this build trains revision {}, whose models compute "
        "differently under the same settings (docs/models.md, 'Fidelity to the released code'); "
        "'auxgrid-analyze --model-revision {}' reads such results",
        where, r.model_revision, revision, r.model_revision);
  AUXGRID_CHECK(r.model_revision == revision, "{}: trained with model revision {}, not {} as asked", where,
                r.model_revision, revision);
  if (expected) {
    for (const auto& [key, value] : expected->values()) {
      const SettingSpec* spec = find_setting(key);
      if (spec && !spec->identifies) continue;
      AUXGRID_CHECK(r.config.has(key) && r.config.get(key) == value,
                    "{}: setting '{}' is {} in the file but {} in the grid", where, key,
                    r.config.has(key) ? to_string(r.config.get(key)) : "absent", to_string(value));
    }
    return;
  }
  // Without the grid, the settings must hash to the id; settings this build
  // does not know (a plugin's, when it is not loaded) leave that undecided.
  const H5::Group config = f.openGroup("config");
  for (const auto& name : h5::attr_names(config))
    if (!find_setting(name) && name != "model" && name != "corpus" && name != "procedure") return;
  AUXGRID_CHECK(r.config.id() == r.cell_id, "{}: its settings are those of cell '{}', not of its cell_id '{}'", where,
                r.config.id(), r.cell_id);
}

// What check_identity needs, without the per-utterance datasets.
CellResult read_identity(const H5::H5File& f, const std::string& where) {
  try {
    CellResult r;
    r.cell_id = h5::read_attr_string(f, "cell_id", where);
    r.label = h5::read_attr_string(f, "label", where);
    r.grid = h5::read_attr_string(f, "grid", where);
    r.model_revision = read_model_revision(f, where);
    r.config = read_config(h5::open_group(f, "config", where), where);
    return r;
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

// A full verification reads every per-utterance string (about 50 ms for a
// paper-sized result), too slow to repeat over 1,000 results at every
// `status`. So each version of a file is verified once: DIR/verified.tsv
// lists the files that passed by their identity on disk (device, inode, size,
// and modification and change times in ns). Any write to a file, or a file
// put in its place, changes that identity, so it is verified again. A file
// changed within the last two seconds is not listed: timestamps tick
// coarsely, and a second change in the same tick would keep its identity.
class VerifiedFiles {
 public:
  static VerifiedFiles& of(const std::string& dir) {
    static std::mutex mutex;
    static std::map<std::string, VerifiedFiles> by_dir;
    const std::lock_guard<std::mutex> lock(mutex);
    auto it = by_dir.find(dir);
    if (it == by_dir.end()) it = by_dir.emplace(dir, VerifiedFiles(dir)).first;
    return it->second;
  }

  bool contains(const std::string& file) const {
    const auto key = identity(file);
    return !key.empty() && keys_.count(key);
  }

  // Lists `file` as verified (in memory always; on disk when the directory is writable).
  void add(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || std::time(nullptr) - std::max(st.st_mtime, st.st_ctime) < 2) return;
    const auto key = identity(file);
    if (key.empty() || !keys_.insert(key).second) return;
    // One append of one short line: concurrent writers do not interleave.
    int fd = -1;
    try {
      fd = files::open_for_append(verified_path(dir_), "the verified list");
    } catch (const Error&) {
      return;  // a read-only results directory: verified again next time
    }
    const auto line = key + "\n";
    [[maybe_unused]] const auto written = ::write(fd, line.data(), line.size());
    ::close(fd);
  }

 private:
  explicit VerifiedFiles(std::string dir) : dir_(std::move(dir)) {
    std::ifstream in(verified_path(dir_));
    for (std::string line; std::getline(in, line);) keys_.insert(line);
  }

  static std::string identity(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return "";
    return fmt::format("{}\t{}\t{}\t{}\t{}.{:09d}\t{}.{:09d}", fs::path(file).filename().string(), st.st_dev, st.st_ino,
                       st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  }

  std::string dir_;
  std::unordered_set<std::string> keys_;
};

// Throws unless `file`, open as `f` in results directory `dir`, is a complete
// and intact result (verified in full once per version of the file) of the
// cell it is named after (and, given `expected`, of those settings).
void verify(const std::string& dir, const std::string& file, const H5::H5File& f, const Config* expected, int revision,
            const std::string& where) {
  auto& verified = VerifiedFiles::of(dir);
  const bool known = verified.contains(file);
  check_identity(known ? read_identity(f, where) : read_cell(f, where), f, file, expected, revision, where);
  if (!known) verified.add(file);
}

}  // namespace

void write_result(const std::string& path, const CellResult& r) {
  const std::string where = where_of(path);
  validate_result(r, where);
  h5::write_atomically(path, where, [&](H5::H5File& f) {
    write_attributes(f, r);
    write_config(f, r);
    write_epochs(f, r);
    write_split(f, r);
    write_evals(f, r);
    h5::attr_string(f, kChecksum, checksum_of(f, where));
    // Everything else reaches the file before the flag says it is complete.
    f.flush(H5F_SCOPE_LOCAL);
    const std::int32_t one = 1;
    f.openAttribute("complete").write(H5::PredType::NATIVE_INT32, &one);
  });
}

CellResult read_result(const std::string& path) {
  const std::string where = where_of(path);
  return read_cell(h5::open_read(path, where), where);
}

ResultSummary read_result_summary(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = h5::open_read(path, where);
  read_cell(f, where);
  return summarize(f, path, where);
}

ResultState result_state(const std::string& dir, const std::string& cell_id, std::string* why, const Config* expected) {
  const std::string path = result_path(dir, cell_id);
  std::string because;
  ResultState state = ResultState::incomplete;
  const std::string where = where_of(path);
  try {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      because = "no such file";
      state = ResultState::missing;
    } else {
      const H5::H5File f = h5::open_read(path, where);
      try {
        verify(dir, path, f, expected, kModelRevision, where);
      } catch (const H5::Exception& e) {
        h5::fail(e, where);
      }
      state = ResultState::complete;
    }
  } catch (const std::exception& e) {
    because = reason(e.what(), where);
  } catch (...) {
    because = "unknown error";
  }
  if (why) *why = because;
  return state;
}

std::vector<ResultSummary> scan_results(const std::string& dir, std::vector<std::string>* problems, int revision) {
  const fs::path cells = cells_dir(dir);
  std::error_code ec;
  if (!fs::is_directory(cells, ec)) return {};
  std::vector<std::string> files;
  for (fs::directory_iterator it(cells, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    // Temporary files of writers that are still running (or crashed).
    if (p.extension() == ".h5" && p.filename().string().find(".tmp.") == std::string::npos) files.push_back(p.string());
  }
  AUXGRID_CHECK(!ec, "results '{}': cannot list {}: {}", dir, cells.string(), ec.message());
  std::sort(files.begin(), files.end());

  std::vector<ResultSummary> out;
  for (const auto& file : files) {
    const std::string where = where_of(file);
    try {
      const H5::H5File f = h5::open_read(file, where);
      try {
        verify(dir, file, f, nullptr, revision, where);
        out.push_back(summarize(f, file, where));
      } catch (const H5::Exception& e) {
        h5::fail(e, where);
      }
    } catch (const Error& e) {
      if (problems) problems->push_back(fmt::format("{}: {}", file, reason(e.what(), where)));
    }
  }
  return out;
}

std::string hdf5_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return fmt::format("{}.{}.{}", major, minor, release);
}

}  // namespace auxgrid::store
