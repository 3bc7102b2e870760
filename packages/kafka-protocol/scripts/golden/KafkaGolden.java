// Cross-checks the generated codecs with Kafka's own message classes (kafka-clients on the
// classpath). For each stdin line "<MessageName> <version> <hex>" it decodes the bytes with
// org.apache.kafka.common.message.<MessageName>Data, encodes the result again and prints
// "<hex of Kafka's encoding> <Kafka's JSON of the message>", or "ERR <reason>".
// Run from the package test: java -cp '<kafka libs>/*' scripts/golden/KafkaGolden.java
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.Readable;

public class KafkaGolden {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    HexFormat hex = HexFormat.of();
    String line;
    while ((line = in.readLine()) != null) {
      String[] parts = line.split(" ", 3);
      try {
        String cls = "org.apache.kafka.common.message." + parts[0] + "Data";
        short version = Short.parseShort(parts[1]);
        byte[] bytes = parts.length > 2 ? hex.parseHex(parts[2]) : new byte[0];
        ByteBufferAccessor accessor = new ByteBufferAccessor(ByteBuffer.wrap(bytes));
        Class<?> type = Class.forName(cls);
        Constructor<?> ctor = type.getConstructor(Readable.class, short.class);
        Message message = (Message) ctor.newInstance(accessor, version);
        if (accessor.remaining() != 0) throw new IllegalStateException(accessor.remaining() + " bytes left");
        ObjectSerializationCache cache = new ObjectSerializationCache();
        ByteBuffer out = ByteBuffer.allocate(message.size(cache, version));
        message.write(new ByteBufferAccessor(out), cache, version);
        Class<?> conv = Class.forName(cls + "JsonConverter");
        Method write = conv.getMethod("write", type, short.class, boolean.class);
        Object json = write.invoke(null, message, version, true);
        System.out.println(hex.formatHex(out.array()) + " " + json);
      } catch (Throwable e) {
        Throwable c = e.getCause() != null ? e.getCause() : e;
        System.out.println("ERR " + c.toString().replace('\n', ' '));
      }
    }
  }
}
