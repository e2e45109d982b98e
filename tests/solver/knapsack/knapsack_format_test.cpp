// The knapsack literature's text format (reds/knapsack_format.h): several instances per file, layout
// leniency, and an error naming the line for every way a file can be broken.
#include "reds/knapsack_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using reds::knapsack::TextInstance;

constexpr const char* kTwoInstances =
    "knapPI_1_4_10_1\n"
    "n 4\n"
    "c 10\n"
    "z 90\n"
    "time 0.01\n"
    "1,10,5,0\n"
    "2,40,4,1\n"
    "3,30,6,0\n"
    "4,50,3,1\n"
    "-----\n"
    "\n"
    "second one\r\n"
    "  c 3\r\n"
    "n 2\r\n"
    "1, 7 ,2,1\r\n"
    "2,-1,0,0\r\n"
    "--\r\n";

TEST(KnapsackFormat, ReadsSeveralInstances) {
  const auto instances = reds::knapsack::parse_instances(kTwoInstances);
  ASSERT_TRUE(instances.ok()) << instances.error().message;
  ASSERT_EQ(instances->size(), 2u);

  const TextInstance& first = (*instances)[0];
  EXPECT_EQ(first.name, "knapPI_1_4_10_1");
  EXPECT_EQ(first.problem.capacity, 10);
  ASSERT_EQ(first.problem.items.size(), 4u);
  EXPECT_EQ(first.problem.items[1].profit, 40);
  EXPECT_EQ(first.problem.items[1].weight, 4);
  EXPECT_EQ(first.problem.items[3].profit, 50);
  EXPECT_EQ(first.optimum, 90);
  ASSERT_TRUE(first.seconds.has_value());
  EXPECT_DOUBLE_EQ(*first.seconds, 0.01);
  EXPECT_EQ(first.solution, (std::vector<bool>{false, true, false, true}));

  // Keys in another order, no z and time, spaces and CRLF line ends.
  const TextInstance& second = (*instances)[1];
  EXPECT_EQ(second.name, "second one");
  EXPECT_EQ(second.problem.capacity, 3);
  ASSERT_EQ(second.problem.items.size(), 2u);
  EXPECT_EQ(second.problem.items[0].profit, 7);
  EXPECT_EQ(second.problem.items[1].profit, -1);
  EXPECT_EQ(second.problem.items[1].weight, 0);
  EXPECT_FALSE(second.optimum.has_value());
  EXPECT_FALSE(second.seconds.has_value());
}

// Rows of every shape the format allows read alike, whether the one-pass row reader takes them (plain
// digits, blanks around) or the general one (carriage returns inside, 19-digit numbers, leading zeros).
TEST(KnapsackFormat, ReadsEveryRowShapeAlike) {
  const auto instances = reds::knapsack::parse_instances(
      "rows\nn 5\nc 9\n"
      "1,10,5,0\n"
      " 2 ,\t-20\t, 6 , 1\n"
      "3\r,30,\r7,0\n"
      "4,1000000000000000000,8,0\n"
      "0005,0000000000000000050,9,1\n"
      "---\n");
  ASSERT_TRUE(instances.ok()) << instances.error().message;
  const TextInstance& instance = instances->front();
  ASSERT_EQ(instance.problem.items.size(), 5u);
  const std::int64_t expected[5][2] = {{5, 10}, {6, -20}, {7, 30}, {8, 1000000000000000000}, {9, 50}};
  for (std::size_t j = 0; j < 5; ++j) {
    EXPECT_EQ(instance.problem.items[j].weight, expected[j][0]) << "row " << j + 1;
    EXPECT_EQ(instance.problem.items[j].profit, expected[j][1]) << "row " << j + 1;
  }
  EXPECT_EQ(instance.solution, (std::vector<bool>{false, true, false, false, true}));
  // Neither reader takes a field of 19 digits beyond 2^63 - 1, a sign alone, or a fifth field.
  for (const char* row : {"1,9300000000000000000,1,0", "1,-,1,0", "1,2,3,0,5"}) {
    const auto broken = reds::knapsack::parse_instances(std::string("r\nn 1\nc 1\n") + row + "\n-\n");
    EXPECT_FALSE(broken.ok()) << row;
  }
}

// A field of 19 digits is past the one-pass reader's safe range (18 digits), which stops before it could
// overflow and leaves the field to the general reader: 2^63 - 1 reads exactly.
TEST(KnapsackFormat, ReadsTheLargestIntegerWhole) {
  const auto instances = reds::knapsack::parse_instances("r\nn 1\nc 1\n1,9223372036854775807,1,0\n-\n");
  ASSERT_TRUE(instances.ok()) << instances.error().message;
  EXPECT_EQ(instances->front().problem.items.at(0).profit, std::numeric_limits<std::int64_t>::max());
}

TEST(KnapsackFormat, ReadsAnEmptyInstanceAndAnEmptyText) {
  const auto empty = reds::knapsack::parse_instances("nothing\nn 0\nc 5\nz 0\n-----\n");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  ASSERT_EQ(empty->size(), 1u);
  EXPECT_TRUE((*empty)[0].problem.items.empty());
  const auto none = reds::knapsack::parse_instances("\n \n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(KnapsackFormat, WritesWhatItReads) {
  const auto instances = reds::knapsack::parse_instances(kTwoInstances);
  ASSERT_TRUE(instances.ok());
  std::string text;
  for (const TextInstance& instance : *instances) text += reds::knapsack::format_instance(instance);
  EXPECT_EQ(text.rfind("knapPI_1_4_10_1\nn 4\nc 10\nz 90\ntime 0.01\n1,10,5,0\n2,40,4,1\n", 0), 0u) << text;
  const auto again = reds::knapsack::parse_instances(text);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_EQ(again->size(), instances->size());
  for (std::size_t i = 0; i < again->size(); ++i) {
    const TextInstance& a = (*instances)[i];
    const TextInstance& b = (*again)[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.problem.capacity, b.problem.capacity);
    ASSERT_EQ(a.problem.items.size(), b.problem.items.size());
    for (std::size_t j = 0; j < a.problem.items.size(); ++j) {
      EXPECT_EQ(a.problem.items[j].weight, b.problem.items[j].weight);
      EXPECT_EQ(a.problem.items[j].profit, b.problem.items[j].profit);
    }
    EXPECT_EQ(a.optimum, b.optimum);
    EXPECT_EQ(a.solution, b.solution);
  }
}

// A time of any size is written whole (found by the knapsack_format fuzzer: a 1.1e306 s time was cut to
// the first 31 characters of its digits, which read back as another number).
TEST(KnapsackFormat, WritesTheLargestTimesWhole) {
  const auto instances = reds::knapsack::parse_instances("huge\nn 1\nc 1\ntime 0.011e308\n1,1,1,1\n-----\n");
  ASSERT_TRUE(instances.ok()) << instances.error().message;
  const std::string once = reds::knapsack::format_instance(instances->front());
  const auto again = reds::knapsack::parse_instances(once);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->front().seconds, instances->front().seconds);
  EXPECT_EQ(reds::knapsack::format_instance(again->front()), once);
}

// Every broken file names the line the problem shows on, and what is wrong there.
TEST(KnapsackFormat, RejectsBrokenFiles) {
  struct Case {
    const char* text;
    const char* mention;
  };
  const Case cases[] = {
      {"a\nn 2\nc 5\n1,1,1,0\n2,1,1,0\n", "line 5: instance 'a' ends without a line of dashes"},
      {"a\nn 2\nc 5\n1,1,1,0\n3,1,1,0\n-----\n", "line 5: item index 3, expected 2"},
      {"a\nn 2\nc 5\n1,1,1,0\n2,1.5,1,0\n-----\n", "line 5: expected four integers"},
      {"a\nn 2\nc 5\n1,1,1,0\n2,1,1\n-----\n", "line 5: expected 'index,profit,weight,x'"},
      {"a\nn 2\nc 5\n1,1,1,0\n2,1,1,0,7\n-----\n", "line 5: expected 'index,profit,weight,x'"},
      {"a\nn 2\nc 5\n1,1,1,2\n2,1,1,0\n-----\n", "line 4: x must be 0 or 1"},
      {"a\nn 1\nc 5\n1,1,1,0\n2,1,1,0\n-----\n", "line 5: instance 'a' has more than its n = 1 items"},
      {"a\nn 3\nc 5\n1,1,1,0\n2,1,1,0\n-----\n", "line 6: instance 'a' has 2 items, its n line says 3"},
      {"a\nc 5\n1,1,1,0\n-----\n", "needs a line 'n N'"},
      {"a\nn 1\n1,1,1,0\n-----\n", "needs a line 'c C'"},
      {"a\nn 1\nc 5\nc 6\n1,1,1,0\n-----\n", "line 4: 'c' given twice"},
      {"a\nn one\nc 5\n", "line 2: 'n' needs an integer, got 'one'"},
      {"a\nn 1\nc 5\ntime soon\n", "line 4: 'time' needs a number"},
      {"a\nn 1\nc 5\n", "line 3: instance 'a' ends before its items"},
      {"-----\n", "line 1: a line of dashes without an instance before it"},
  };
  for (const Case& c : cases) {
    const auto instances = reds::knapsack::parse_instances(c.text);
    ASSERT_FALSE(instances.ok()) << c.text;
    EXPECT_EQ(instances.error().code, reds::ErrorCode::invalid_argument);
    EXPECT_NE(instances.error().message.find(c.mention), std::string::npos)
        << "message: " << instances.error().message << "\nexpected to mention: " << c.mention;
  }
}

}  // namespace
