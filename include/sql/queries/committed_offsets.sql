SELECT topic, partition, next_offset FROM market.ingest_offsets WHERE query_name = %(query_name)s
