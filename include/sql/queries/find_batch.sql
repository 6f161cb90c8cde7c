SELECT offset_ranges FROM market.ingest_batches WHERE query_name = %(query_name)s AND batch_id = %(batch_id)s
