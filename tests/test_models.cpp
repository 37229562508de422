#define BOOST_TEST_MODULE models
#include <torch/torch.h>

#include <boost/test/unit_test.hpp>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/models/blocks.hpp"
#include "auxgrid/models/model.hpp"

using namespace auxgrid;

namespace {
Config tiny_config(const std::string& model) {
  auto c = Config::defaults();
  c.set("model.name", model);
  c.set("model.width", std::int64_t{16});
  c.set("model.heads", std::int64_t{2});
  c.set("model.layers", std::int64_t{2});
  return c;
}
store::CorpusData tiny_corpus() {
  auto o = data::synth_preset("tiny");
  o.speakers = 3, o.utterances_per_speaker = 4, o.video_dim = 8, o.min_audio_frames = 5, o.max_audio_frames = 40;
  return data::synthesize(o, 0);
}
const models::ModelDims kTinyDims{130, 8, 4};
}  // namespace

BOOST_AUTO_TEST_CASE(paper_parameter_counts) {
  // MODELS.md / Table 5 at the paper's sizes (d = 130, 10 heads, 5 layers, video 4096, C = 4).
  auto c = Config::defaults();
  const models::ModelDims paper{130, 4096, 4};
  BOOST_TEST(models::count_parameters(*models::make_model(c, paper)) == 7054748);
  c.set("model.name", std::string("baseline1"));
  BOOST_TEST(models::count_parameters(*models::make_model(c, paper)) == 4776994);
}

BOOST_AUTO_TEST_CASE(heads_and_shapes_with_masks) {
  const auto corpus = tiny_corpus();
  const auto batch = data::make_batch(corpus, {0, 1, 2, 3, 4});
  for (const std::string name : {"auxformer", "baseline1"}) {
    torch::manual_seed(0);
    auto model = models::make_model(tiny_config(name), kTinyDims);
    const auto heads = model->forward(batch);
    BOOST_TEST(heads.size() == (name == "auxformer" ? 3u : 1u));
    BOOST_TEST(heads[0].head == "av");
    for (const auto& h : heads) {
      BOOST_TEST(h.logits.sizes() == (std::vector<std::int64_t>{5, 4}));
      BOOST_TEST(torch::isfinite(h.logits).all().item<bool>());
    }
    BOOST_TEST(models::combined_logits(heads).sizes() == (std::vector<std::int64_t>{5, 4}));
  }
}

BOOST_AUTO_TEST_CASE(padding_does_not_leak_with_masks) {
  const auto corpus = tiny_corpus();
  // The utterance alone, then beside longer ones (more padding for it).
  std::int64_t shortest = 0;
  for (std::int64_t u = 1; u < corpus.info.num_utterances; ++u)
    if (corpus.audio_offsets[u + 1] - corpus.audio_offsets[u] <
        corpus.audio_offsets[shortest + 1] - corpus.audio_offsets[shortest])
      shortest = u;
  std::vector<std::int64_t> crowd{shortest};
  for (std::int64_t u = 0; u < corpus.info.num_utterances; ++u)
    if (u != shortest) crowd.push_back(u);
  const auto alone = data::make_batch(corpus, {shortest});
  const auto padded = data::make_batch(corpus, crowd);
  BOOST_REQUIRE(padded.audio.size(1) > alone.audio.size(1));

  torch::NoGradGuard no_grad;
  for (const bool masked : {true, false}) {
    auto c = tiny_config("auxformer");
    c.set("model.padding_mask", masked);
    torch::manual_seed(1);
    auto model = models::make_model(c, kTinyDims);
    model->eval();
    const auto a = models::combined_logits(model->forward(alone))[0];
    const auto b = models::combined_logits(model->forward(padded))[0];
    const double gap = (a - b).abs().max().item<double>();
    if (masked)
      BOOST_TEST(gap < 1e-5);
    else
      BOOST_TEST(gap > 1e-4);  // the reference behaviour attends over padding
  }
}

BOOST_AUTO_TEST_CASE(positional_encoding_and_last_valid_frame) {
  auto mask = torch::tensor({1, 1, 1, 0}, torch::kBool).view({1, 4});
  auto pe = models::sinusoidal_encoding(mask, 6);
  BOOST_TEST(pe.sizes() == (std::vector<std::int64_t>{1, 4, 6}));
  BOOST_TEST(pe[0][0][0].item<float>() == std::sin(1.0f), boost::test_tools::tolerance(1e-6f));  // position 1
  BOOST_TEST(pe[0][1][3].item<float>() == std::cos(2.0f), boost::test_tools::tolerance(1e-6f));  // cos half
  BOOST_TEST(pe[0][3].abs().sum().item<float>() == 0.0f);  // padding
  auto x = torch::arange(8, torch::kFloat).view({2, 4, 1});
  auto m = torch::tensor({1, 1, 0, 0, 1, 1, 1, 1}, torch::kBool).view({2, 4});
  auto t = models::last_valid(x, m);
  BOOST_TEST(t[0][0].item<float>() == 1.0f);
  BOOST_TEST(t[1][0].item<float>() == 7.0f);
}

BOOST_AUTO_TEST_CASE(model_settings_are_checked) {
  auto c = tiny_config("auxformer");
  c.set("model.heads", std::int64_t{3});
  BOOST_CHECK_THROW(models::make_model(c, kTinyDims), Error);
  c.set("model.name", std::string("nonesuch"));
  try {
    models::make_model(c, kTinyDims);
    BOOST_FAIL("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("auxformer, baseline1") != std::string::npos, e.what());
  }
}
