"""Real Python PostgreSQL clients against accord's Postgres endpoint.

Usage: py_clients.py <scenario> <host> <port> <token>
Prints one JSON document on stdout; exits non-zero on failure.
"""
import json
import sys
from decimal import Decimal


def jsonable(v):
    if isinstance(v, Decimal):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def rows(cur):
    return [[jsonable(x) for x in r] for r in cur.fetchall()]


def psycopg2_scenario(host, port, token):
    import psycopg2

    out = {}
    conn = psycopg2.connect(host=host, port=port, user="analyst", password=token, dbname="accord")
    cur = conn.cursor()
    cur.execute("SELECT status, revenue, orders FROM orders GROUP BY status ORDER BY status")
    out["desc"] = [(d.name, d.type_code) for d in cur.description]
    out["by_status"] = rows(cur)
    cur.execute(
        "SELECT status, revenue FROM orders WHERE status = %s GROUP BY 1 ORDER BY 1", ("completed",)
    )
    out["param"] = rows(cur)
    try:
        cur.execute("SELECT nope FROM orders")
        out["error"] = None
    except psycopg2.Error as e:
        out["error"] = e.pgcode
        conn.rollback()
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
    out["tables"] = [r[0] for r in cur.fetchall()]
    conn.close()
    return out


def psycopg3_scenario(host, port, token):
    import psycopg
    import pandas as pd
    import sqlalchemy as sa

    out = {}
    with psycopg.connect(host=host, port=port, user="analyst", password=token, dbname="accord") as conn:
        # Server-side prepared statements with binary parameters.
        cur = conn.execute(
            "SELECT status, revenue FROM orders WHERE status = %s GROUP BY status",
            ("completed",),
            prepare=True,
        )
        out["psycopg3"] = rows(cur)
        cur = conn.execute(
            "SELECT status, orders FROM orders GROUP BY status ORDER BY status LIMIT %s",
            (2,),
            binary=True,
        )
        out["psycopg3_binary"] = rows(cur)
    url = f"postgresql+psycopg://analyst:{token}@{host}:{port}/accord"
    engine = sa.create_engine(url)
    insp = sa.inspect(engine)
    out["table_names"] = insp.get_table_names()
    out["columns"] = [(c["name"], str(c["type"])) for c in insp.get_columns("orders")]
    df = pd.read_sql(
        sa.text("SELECT status, revenue FROM orders GROUP BY status ORDER BY status"),
        engine.connect(),
    )
    out["pandas"] = [[r["status"], str(r["revenue"])] for _, r in df.iterrows()]
    # psycopg2 dialect too
    engine2 = sa.create_engine(f"postgresql+psycopg2://analyst:{token}@{host}:{port}/accord")
    out["table_names_psycopg2"] = sa.inspect(engine2).get_table_names()
    return out


def main():
    scenario, host, port, token = sys.argv[1:5]
    fn = {"psycopg2": psycopg2_scenario, "psycopg3": psycopg3_scenario}[scenario]
    print(json.dumps(fn(host, int(port), token)))


if __name__ == "__main__":
    main()
