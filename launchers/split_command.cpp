// auxgrid splits: the speaker-independent split of each trial, as every model
// of the corpus gets it.
#include <fmt/format.h>

#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

int splits(const Args& args) {
  std::string corpus_path, seeds = "0-19";
  auto config = Config::defaults();
  double train_fraction = config.real("data.train_fraction"), dev_fraction = config.real("data.dev_fraction");
  po::options_description o("options");
  o.add_options()("corpus", po::value(&corpus_path)->required(), "corpus file")("seeds", po::value(&seeds),
                                                                                "trials, e.g. 0-19 (default) or 3")(
      "train-fraction", po::value(&train_fraction), "share of utterances in train (data.train_fraction)")(
      "dev-fraction", po::value(&dev_fraction), "share in dev (data.dev_fraction)");
  parse(args, o, "corpus");
  // The settings' own rules, as a grid's data.train_fraction and data.dev_fraction have them.
  config.set("data.train_fraction", train_fraction, "--train-fraction");
  config.set("data.dev_fraction", dev_fraction, "--dev-fraction");
  // The seed axis syntax of grid files, checked by the same code.
  const auto trials = parse_grid(fmt::format("[axes]\nseed = \"{}\"\n", seeds), "--seeds");

  const auto index = store::read_corpus_index(corpus_path);
  fmt::print("corpus '{}' ({}): {} utterances, {} speakers; target {:.0f}/{:.0f}/{:.0f} %\n", index.info.name,
             corpus_path, index.utterance_ids.size(),
             std::set<std::string>(index.speakers.begin(), index.speakers.end()).size(), 100 * train_fraction,
             100 * dev_fraction, 100 * (1 - train_fraction - dev_fraction));
  fmt::print("{:>5}  {:>14}  {:>14}  {:>14}\n", "seed", "train utt/spk", "dev utt/spk", "test utt/spk");
  for (const auto& cell : trials.cells) {
    const auto seed = cell.config.integer("seed");
    const auto split = data::speaker_split(index.speakers, seed, train_fraction, dev_fraction, corpus_path);
    const auto column = [&](const std::vector<std::int64_t>& set) {
      std::set<std::string> speakers;
      for (auto i : set) speakers.insert(index.speakers[i]);
      return fmt::format("{:>9} / {:>2}", set.size(), speakers.size());
    };
    fmt::print("{:>5}  {:>14}  {:>14}  {:>14}\n", seed, column(split.train), column(split.dev), column(split.test));
  }
  return 0;
}

}  // namespace auxgrid::launcher
