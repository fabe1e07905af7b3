// Independent XML-DSig signer for test fixtures: the JDK's own javax.xml.crypto.dsig (Apache
// Santuario inside OpenJDK). Used for algorithms the Debian xmlsec1 1.2.37 and samlsign cannot sign
// (RSA-PSS sha256-rsa-MGF1). Run as a single-file program: java JavaDsigSign.java ARGS.
// Args: in.xml out.xml key.pem idValue signatureMethodUri digestMethodUri c14nUri
import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.spec.*;
import java.util.*;
import javax.xml.crypto.dsig.*;
import javax.xml.crypto.dsig.dom.DOMSignContext;
import javax.xml.crypto.dsig.spec.*;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.*;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.*;

public class JavaDsigSign {
  public static void main(String[] a) throws Exception {
    DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
    dbf.setNamespaceAware(true);
    Document doc = dbf.newDocumentBuilder().parse(new File(a[0]));
    Element target = null;
    NodeList all = doc.getElementsByTagNameNS("*", "*");
    for (int i = 0; i < all.getLength(); i++) {
      Element e = (Element) all.item(i);
      if (a[3].equals(e.getAttribute("ID"))) { target = e; e.setIdAttribute("ID", true); }
    }
    String pem = new String(Files.readAllBytes(Paths.get(a[2]))).replaceAll("-----[^-]+-----", "").replaceAll("\\s", "");
    byte[] der = Base64.getDecoder().decode(pem);
    PrivateKey key;
    try { key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der)); }
    catch (Exception ex) { key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der)); }
    XMLSignatureFactory f = XMLSignatureFactory.getInstance("DOM");
    List<Transform> transforms = List.of(
      f.newTransform(Transform.ENVELOPED, (TransformParameterSpec) null),
      f.newTransform(a[6], (TransformParameterSpec) null));
    Reference ref = f.newReference("#" + a[3], f.newDigestMethod(a[5], null), transforms, null, null);
    SignedInfo si = f.newSignedInfo(f.newCanonicalizationMethod(a[6], (C14NMethodParameterSpec) null), f.newSignatureMethod(a[4], null), List.of(ref));
    // After the Issuer (SAML Core §5.4.1), else first.
    Node next = target.getFirstChild();
    for (Node c = target.getFirstChild(); c != null; c = c.getNextSibling()) {
      if (c.getNodeType() == Node.ELEMENT_NODE && "Issuer".equals(c.getLocalName())) { next = c.getNextSibling(); break; }
    }
    DOMSignContext ctx = new DOMSignContext(key, target, next);
    ctx.setDefaultNamespacePrefix("ds");
    f.newXMLSignature(si, null).sign(ctx);
    Transformer t = TransformerFactory.newInstance().newTransformer();
    t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
    t.transform(new DOMSource(doc), new StreamResult(new File(a[1])));
  }
}
