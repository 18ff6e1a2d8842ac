//! `POST /api/v1/read` end to end: the streamed XOR-chunks response.
