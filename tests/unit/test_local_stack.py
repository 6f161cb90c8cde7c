"""local_stack's wait for a server's port, and the Spark cluster's command lines, configuration
and wait for its worker, without servers."""

import socket

import pytest

from local_stack import spark_cluster
from local_stack.ports import free_port, wait_for_port


def test_the_wait_returns_once_the_port_listens():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        wait_for_port("127.0.0.1", server.getsockname()[1], 5)


def test_the_wait_ends_at_once_when_the_process_meant_to_listen_has_exited():
    with pytest.raises(RuntimeError, match="exited"):
        wait_for_port("127.0.0.1", free_port(), 60, alive=lambda: False)


def test_the_wait_gives_up_after_its_seconds():
    with pytest.raises(TimeoutError, match="after 0.5 s"):
        wait_for_port("127.0.0.1", free_port(), 0.5)



def test_the_cluster_runs_pysparks_spark_class_on_loopback_with_its_properties(tmp_path):
    conf = spark_cluster.configure(tmp_path)
    master = spark_cluster.master_command(conf, "127.0.0.1", 7077, 8181)
    worker = spark_cluster.worker_command(conf, "127.0.0.1", 7077, 8182, tmp_path / "work")
    assert master[0] == worker[0] and master[0].endswith("/spark-class")
    assert master[1:] == [spark_cluster.MASTER_CLASS, "--host", "127.0.0.1", "--port", "7077", "--webui-port", "8181",
                          "--properties-file", str(conf / "spark-cluster.conf")]
    assert worker[1:] == [spark_cluster.WORKER_CLASS, "spark://127.0.0.1:7077", "--host", "127.0.0.1", "--cores", "1",
                          "--memory", "1g", "--webui-port", "8182", "--work-dir", str(tmp_path / "work"),
                          "--properties-file", str(conf / "spark-cluster.conf")]
    assert spark_cluster.environment(conf)["SPARK_CONF_DIR"] == str(conf)


def test_the_cluster_has_no_rest_submission_port_and_its_executors_log_their_kafka_reads(tmp_path):
    conf = spark_cluster.configure(tmp_path)
    assert "spark.master.rest.enabled false\n" in (conf / "spark-cluster.conf").read_text()
    log4j = (conf / "log4j2.properties").read_text()
    assert "rootLogger.level = warn" in log4j
    assert "logger.kafka_source.name = org.apache.spark.sql.kafka010\nlogger.kafka_source.level = info" in log4j


def test_the_wait_for_a_worker_ends_at_once_when_the_master_or_worker_has_exited():
    with pytest.raises(RuntimeError, match="exited"):
        spark_cluster.wait_for_workers("127.0.0.1", free_port(), 60, alive=lambda: False)


def test_the_wait_for_a_worker_gives_up_after_its_seconds():
    with pytest.raises(TimeoutError, match="after 1 s"):
        spark_cluster.wait_for_workers("127.0.0.1", free_port(), 1)
