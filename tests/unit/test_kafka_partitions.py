"""What `kafka_io.ensure_topics` plans for existing and missing topics, without a broker."""

import pytest

from market_pipeline.kafka_io import PartitionsRefused, TopicChanges, plan_topics

BARS = "market.bars.intraday"
DEAD_LETTER = "market.bars.dead-letter"


def test_should_create_missing_topics_with_their_partitions():
    assert plan_topics({}, {BARS: 3, DEAD_LETTER: 1}) == TopicChanges(create={BARS: 3, DEAD_LETTER: 1}, grow={})


def test_should_leave_topics_that_have_their_partitions_alone():
    assert plan_topics({BARS: 3, DEAD_LETTER: 1, "other": 7}, {BARS: 3, DEAD_LETTER: 1}) == TopicChanges({}, {})


def test_should_grow_a_topic_below_the_setting_and_create_the_missing_one():
    assert plan_topics({BARS: 3}, {BARS: 6, DEAD_LETTER: 1}) == TopicChanges(create={DEAD_LETTER: 1},
                                                                            grow={BARS: (3, 6)})


def test_should_refuse_fewer_partitions_than_a_topic_has_and_change_nothing():
    with pytest.raises(PartitionsRefused, match=rf"{BARS} has 6 partitions, 3 asked.*KAFKA_BARS_PARTITIONS"):
        plan_topics({BARS: 6}, {BARS: 3, DEAD_LETTER: 1})
