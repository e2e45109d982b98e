// End to end: the REDS authors' pretrained DS-CNN S on the 10,000 Fashion-MNIST test images reproduces
// the accuracy they report (REDS extended appendix, Table 7: 90.59 %).
#include <gtest/gtest.h>

#include <iostream>

#include "models/test_data.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"

namespace reds::engine {
namespace {

TEST(FashionMnist, PretrainedDsCnnSReproducesTheAuthorsAccuracy) {
  const Result<Model> model = load_model(testing::pretrained_model("fashion_mnist"));
  ASSERT_TRUE(model) << model.error().message;
  Result<Session> session = Session::create(*model);
  ASSERT_TRUE(session) << session.error().message;
  const Result<ImageSet> images = load_test_set(testing::kFashionMnistDir);
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->count, 10000);

  const Result<LevelEvaluation> evaluation = evaluate(session.value(), 0, *images);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  std::cout << "Fashion-MNIST test set: " << evaluation->correct << "/" << evaluation->total << " correct\n";
  EXPECT_EQ(evaluation->total, 10000);
  // 90.59 % is 9059 images; a float32 computation in another order may tip an image or two either way.
  EXPECT_GE(evaluation->correct, 9057);
  EXPECT_LE(evaluation->correct, 9061);
}

}  // namespace
}  // namespace reds::engine
