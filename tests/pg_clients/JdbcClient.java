import java.sql.*;

/** pgjdbc against accord: connect, DatabaseMetaData, a PreparedStatement. */
public class JdbcClient {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/accord?sslmode=disable";
        try (Connection c = DriverManager.getConnection(url, "analyst", args[2])) {
            StringBuilder out = new StringBuilder("{");
            DatabaseMetaData md = c.getMetaData();
            out.append("\"product\":\"").append(md.getDatabaseProductName()).append("\",");
            out.append("\"tables\":[");
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                boolean first = true;
                while (rs.next()) {
                    out.append(first ? "" : ",").append("\"").append(rs.getString("TABLE_NAME")).append("\"");
                    first = false;
                }
            }
            out.append("],\"columns\":[");
            try (ResultSet rs = md.getColumns(null, "public", "orders", "%")) {
                boolean first = true;
                while (rs.next()) {
                    out.append(first ? "" : ",").append("[\"").append(rs.getString("COLUMN_NAME")).append("\",\"")
                        .append(rs.getString("TYPE_NAME")).append("\"]");
                    first = false;
                }
            }
            out.append("],\"rows\":[");
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT status, revenue FROM orders WHERE status = ? GROUP BY status")) {
                ps.setString(1, "completed");
                try (ResultSet rs = ps.executeQuery()) {
                    boolean first = true;
                    while (rs.next()) {
                        out.append(first ? "" : ",").append("[\"").append(rs.getString(1)).append("\",\"")
                            .append(rs.getBigDecimal(2).toPlainString()).append("\"]");
                        first = false;
                    }
                }
            }
            out.append("]}");
            System.out.println(out);
        }
    }
}
